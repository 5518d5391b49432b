/* SPDX-License-Identifier: MIT */
/*
 * The timely_communication crate's own example: a fixed configuration of two worker
 * threads in one process (arguments are ignored), each sending "hello, 0" to worker 0 and
 * "hello, 1" to worker 1.
 */
#include <stdio.h>

#include <tide.h>

static void send_text(tide_push *push, const char *text)
{
    tide_batch *batch = tide_batch_new(TIDE_STR, 0);
    tide_batch_push(batch, &text);
    tide_push_send(push, &batch);
    tide_push_send(push, NULL);
    tide_batch_free(batch); /* the recycled batch, if the channel left one */
}

static int worker(tide_allocator *alloc, void *ctx)
{
    (void)ctx;
    size_t me = tide_allocator_index(alloc);
    printf("worker %zu started\n", me);

    /* allocates a pair of senders list and one receiver */
    tide_push **senders;
    tide_pull *receiver;
    if (tide_allocator_allocate(alloc, TIDE_STR, &senders, &receiver) < 0)
        return -1;
    send_text(senders[0], "hello, 0");
    send_text(senders[1], "hello, 1");

    /* no support for termination notification, we have to count down ourselves */
    int expecting = 2;
    tide_batch *message = NULL;
    while (expecting > 0) {
        tide_allocator_receive(alloc);
        while (tide_pull_recv(receiver, &message)) {
            const char *text;
            for (size_t at = 0; tide_batch_read(message, &at, &text); expecting--)
                printf("worker %zu: received: <%s>\n", me, text);
        }
        tide_allocator_release(alloc);
        if (expecting > 0)
            tide_allocator_park(alloc, -1);
    }
    return (int)me;
}

int main(void)
{
    /* configure for two threads, just one process */
    tide_config config;
    tide_config_init(&config);
    config.workers = 2;
    config.launch = TIDE_LAUNCH_SINGLE;
    config.bind = TIDE_BIND_NONE;
    tide_guards *guards;
    if (tide_comm_initialize(&config, worker, NULL, &guards) != 0) {
        printf("error in computation\n");
        return 1;
    }
    int results[2];
    tide_guards_join(guards, results);
    for (int i = 0; i < 2; i++)
        printf("result: Ok(%d)\n", results[i]);
    return 0;
}
