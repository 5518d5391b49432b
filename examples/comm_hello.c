/* SPDX-License-Identifier: MIT */
/*
 * The communication layer on its own (the timely_communication example): every worker
 * sends "hello, i" to each worker i and counts down the greetings it receives.
 *
 *   comm_hello -w 2                 two threads
 *   mpirun -n 2 comm_hello -w 2     two ranks of two threads
 */
#include <stdio.h>
#include <stdlib.h>

#include <tide.h>

static int hello(tide_allocator *alloc, void *ctx)
{
    (void)ctx;
    size_t me = tide_allocator_index(alloc), peers = tide_allocator_peers(alloc);
    printf("worker %zu of %zu started\n", me, peers);

    tide_push **senders;
    tide_pull *receiver;
    if (tide_allocator_allocate(alloc, TIDE_STR, &senders, &receiver) < 0)
        return -1;

    /* send typed data along each channel */
    tide_batch *batch = NULL;
    for (size_t i = 0; i < peers; i++) {
        char text[64];
        const char *greeting = text;
        snprintf(text, sizeof text, "hello, %zu", i);
        if (!batch && !(batch = tide_batch_new(TIDE_STR, 0)))
            return -1;
        tide_batch_push(batch, &greeting);
        tide_push_send(senders[i], &batch); /* may hand back a recycled batch */
        tide_push_send(senders[i], NULL);   /* done: flush */
    }
    tide_batch_free(batch);

    /* no support for termination notification, we have to count down ourselves */
    size_t received = 0;
    tide_batch *message = NULL;
    while (received < peers) {
        tide_allocator_receive(alloc);
        while (tide_pull_recv(receiver, &message)) {
            const char *text;
            for (size_t at = 0; tide_batch_read(message, &at, &text); received++)
                printf("worker %zu: received: <%s>\n", me, text);
        }
        tide_allocator_release(alloc);
        if (received < peers)
            tide_allocator_park(alloc, -1);
    }
    return (int)me;
}

int main(int argc, char **argv)
{
    tide_config config;
    if (tide_config_init(&config) != 0 || tide_config_from_args(&config, &argc, argv) != 0) {
        fprintf(stderr, "comm_hello: %s\n", config.error);
        return 2;
    }
    if (argc > 1) {
        fprintf(stderr, "comm_hello: unexpected argument '%s'\n", argv[1]);
        return 2;
    }
    tide_guards *guards;
    if (tide_comm_initialize(&config, hello, NULL, &guards) != 0) {
        printf("error in computation\n");
        return 1;
    }
    size_t n = tide_guards_count(guards);
    int *results = calloc(n, sizeof *results);
    tide_guards_join(guards, results);
    for (size_t i = 0; results && i < n; i++)
        printf("result: Ok(%d)\n", results[i]);
    free(results);
    return 0;
}
