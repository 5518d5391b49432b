/* SPDX-License-Identifier: MIT */
/* The event log's records (trace.c) and what the OTF2 writer (otf2.c) is given of them. */
#ifndef TIDE_TRACE_INTERNAL_H
#define TIDE_TRACE_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

enum { TIDE__EV_OP, TIDE__EV_PARK, TIDE__EV_SEND, TIDE__EV_RECV, TIDE__EV_QUEUE };

/* An operator run or park: dur, name (by op->trace_id), records taken. A message: dur its
 * channel and bytes (TIDE__EV_CHANNEL, TIDE__EV_BYTES), name the receiving operator's, peer
 * the worker at the other end, records, aux its flow. A queue sample: dur the bytes
 * queued, records queued. 40 bytes. */
struct tide__trace_event {
    uint64_t ts, dur; /* ns: on the rank's clock while recorded, from the job's zero after */
    uint32_t kind : 4, peer : 28;
    uint32_t name;
    uint64_t records, aux;
};
#define TIDE__EV_MESSAGE(chan, bytes) ((uint64_t)(chan) << 48 | ((bytes) & ((1ull << 48) - 1)))
#define TIDE__EV_CHANNEL(e) ((uint32_t)((e)->dur >> 48))
#define TIDE__EV_BYTES(e) ((e)->dur & ((1ull << 48) - 1))

/* One worker's events, times from the job's zero, with its name table. */
struct tide__trace_part {
    size_t rank, worker;
    const struct tide__trace_event *ev;
    size_t n;
    const char *const *names;
    size_t nnames;
};

/* Writes the archive @p path ("DIR/NAME.otf2": DIR/NAME.otf2 and DIR/NAME/) from the
 * @p peers workers' parts (in worker order) of a job of @p ranks ranks; a failure is fatal,
 * naming the path. */
void tide__otf2_write(const char *path, size_t ranks, size_t peers,
                      const struct tide__trace_part *parts);
/* Stops the job now, naming @p path, if the archive cannot be written there. */
void tide__otf2_check(const char *path);

#endif
