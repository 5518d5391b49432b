/* SPDX-License-Identifier: MIT */
/**
 * @file tide/operators.h  The operator library: common operators built only on the public
 * dataflow layer (tide/dataflow.h).
 */
#ifndef TIDE_OPERATORS_H
#define TIDE_OPERATORS_H

#include "tide/dataflow.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Called for each record that passes: its time, the record (as tide_batch_read() yields
 *  it) and the context given with the operator. */
typedef void (*tide_record_fn)(const tide_time *t, const void *record, void *ctx);

/**
 * A stream of the @p n records of @p type stored at @p records (fixed-size types: an
 * array; variable-length types: an array of their values, e.g. const char * for TIDE_STR),
 * all at time 0, introduced by every worker. The records are copied.
 */
tide_stream *tide_to_stream(tide_scope *scope, const tide_type *type, const void *records,
                            size_t n);
/** Turns one line of a text file (@p line, without its newline) into records given to
 *  @p out; returns NULL, or a message saying what is wrong with the line, which stops the
 *  job as "NAME: FILE:LINE: message". */
typedef const char *(*tide_parse_fn)(const char *line, tide_session *out, void *ctx);
/**
 * A source of the @p nfiles text files @p files (copied), file i at epoch i: each worker
 * parses with @p parse the lines that start in its slice of the file's bytes (worker k of
 * n: from k/n of the size to (k+1)/n), reading only those (what is not a regular file, as
 * a pipe, is read whole by the first worker of each rank, which parses every line; standard
 * input by rank 0's alone, as launchers give it to rank 0), a bounded number per step and
 * none while the rank is over its memory budget (--memory). A file that cannot be opened
 * or read stops the job with "NAME: cannot open 'FILE': reason" or "NAME: cannot read
 * 'FILE' (line N): reason", @p name being also the operator's.
 */
tide_stream *tide_read_files(tide_scope *scope, const char *name, const char *const *files,
                             size_t nfiles, const tide_type *out, tide_parse_fn parse,
                             void *ctx);
/** Turns a run of whole lines of a text file into records given to @p out: the @p len
 *  bytes at @p text are lines separated by newlines, the last one's newline replaced by the
 *  NUL that ends @p text. Returns NULL, or a message saying what is wrong, which stops the
 *  job as "NAME: FILE:LINE: message": LINE is the line holding *@p where when the parser
 *  points it into @p text, else the run's first line. */
typedef const char *(*tide_parse_text_fn)(const char *text, size_t len, const char **where,
                                          tide_session *out, void *ctx);
/**
 * tide_read_files() with runs of lines a call (about 64 KiB of them) in place of one line:
 * for a parser to which a newline is one separator more (words, numbers), it spares a
 * search for each line's end and a call per line (wordcount -w 1: 0.92x the time). The
 * same slices, epochs, bounds and errors.
 */
tide_stream *tide_read_text(tide_scope *scope, const char *name, const char *const *files,
                            size_t nfiles, const tide_type *out, tide_parse_text_fn parse,
                            void *ctx);
/** Calls @p fn on every record with its time (timely's inspect and inspect_time in one),
 *  passing the stream on unchanged. */
tide_stream *tide_inspect(tide_stream *s, tide_record_fn fn, void *ctx);
/** Sends each record to worker hash(record) % peers. */
tide_stream *tide_exchange(tide_stream *s, tide_hash_fn hash, void *ctx);
/** Sends the records of each batch to the workers @p hash_batch gives them (hashes[i] %
 *  peers): tide_exchange() with one call per batch (fixed-size records only). */
tide_stream *tide_exchange_batch(tide_stream *s, tide_hash_batch_fn hash_batch, void *ctx);

/** Writes the output value for input record @p in into @p out (storage for one value of
 *  the output type: for fixed-size types the record's place in the output, which the
 *  function fills whole; e.g. a const char * for TIDE_STR). */
typedef void (*tide_map_fn)(const void *in, void *out, void *ctx);
/** One output record of type @p out per input record. */
tide_stream *tide_map(tide_stream *s, const tide_type *out, tide_map_fn fn, void *ctx);
/** Maps the @p n fixed-size records at @p in to @p n records of the output type at @p out
 *  (room for exactly @p n): record i of the output is the image of record i of the input. */
typedef void (*tide_map_batch_fn)(const void *in, size_t n, void *out, void *ctx);
/** tide_map() with one call per batch instead of one per record (fixed-size records in
 *  and out): the output is written in place in the operator's output buffer. */
tide_stream *tide_map_batch(tide_stream *s, const tide_type *out, tide_map_batch_fn fn,
                            void *ctx);
/** Changes fixed-size records where they are (no copy; the stream keeps its type). */
tide_stream *tide_map_in_place(tide_stream *s, void (*fn)(void *record, void *ctx), void *ctx);
/** Gives any number of output records for each input record, through @p out (at the
 *  input record's time). */
typedef void (*tide_flat_map_fn)(const void *in, tide_session *out, void *ctx);
/** Calls @p fn on each record of @p s; what it gives to its session forms the output
 *  stream of type @p out. */
tide_stream *tide_flat_map(tide_stream *s, const tide_type *out, tide_flat_map_fn fn,
                           void *ctx);
/** Keeps the records for which @p keep returns true. */
tide_stream *tide_filter(tide_stream *s, bool (*keep)(const void *record, void *ctx), void *ctx);

/**
 * A keyed fold, emitted when its time is complete. Records are exchanged by @p hash (records
 * with the same key must hash alike), grouped by key (@p same_key), and each key's state
 * (state_size bytes, zeroed at first) is folded with every record of that key and time;
 * once no more records can arrive at that time, @p emit gives the output for each key
 * (from the key's first record and its state).
 */
typedef struct tide_aggregate_ops {
    size_t state_size; /**< bytes of state per key */
    /** Which worker a record's key goes to (the same for records of one key). */
    uint64_t (*hash)(const void *record, void *ctx);
    /** Whether two records have the same key. */
    bool (*same_key)(const void *a, const void *b, void *ctx);
    /** Folds a record into its key's state. */
    void (*fold)(void *state, const void *record, void *ctx);
    /** Gives a completed time's output for one key. */
    void (*emit)(const void *key_record, const void *state, tide_session *out, void *ctx);
    /** Optional (NULL: none). Folds @p other, a state of the same key and time, into
     *  @p state, as if @p other's records had been folded into it. With it, each worker
     *  folds its own records first and sends one partial state per key and time to the
     *  key's worker, instead of every record (a combiner: wordcount sends each distinct
     *  word once per worker, not each word); the states then must merge in any order,
     *  and they travel as bytes to other workers and ranks, so they must hold no
     *  pointers. */
    void (*merge)(void *state, const void *other, void *ctx);
} tide_aggregate_ops;
/** A fold that counts a key's records: adds one to its state, a uint64_t (state_size at
 *  least 8 bytes). The aggregate recognizes it and counts inline, with no call per record. */
void tide_fold_count(void *state, const void *record, void *ctx);
/** See tide_aggregate_ops; @p ops is copied. */
tide_stream *tide_aggregate(tide_stream *s, const tide_type *out, const tide_aggregate_ops *ops,
                            void *ctx);

/** Calls @p fn on every batch (its time and the batch), passing the stream on unchanged. */
tide_stream *tide_inspect_batch(tide_stream *s,
                                void (*fn)(const tide_time *t, tide_batch *batch, void *ctx),
                                void *ctx);
/** Both streams' records in one stream (types must match). */
tide_stream *tide_concat(tide_stream *a, tide_stream *b);
/** The records of all @p n streams (n >= 1, one type) in one stream. */
tide_stream *tide_concatenate(tide_stream *const *streams, size_t n);
/** Splits @p s into @p n streams (stored in @p out): each record goes to out[route(record)],
 *  route returning a value below n. */
void tide_partition(tide_stream *s, size_t n, uint64_t (*route)(const void *record, void *ctx),
                    void *ctx, tide_stream **out);
/** Splits @p s in two: records for which @p pred is true go to *yes, the others to *no. */
void tide_branch(tide_stream *s, bool (*pred)(const void *record, void *ctx), void *ctx,
                 tide_stream **yes, tide_stream **no);
/** The number of records at each time on this worker, once the time is complete (a
 *  TIDE_U64 record at that time; nothing for times without records). */
tide_stream *tide_count(tide_stream *s);

/** Sets *later (a time not before @p t, which it starts as) for @p record, read at @p t. */
typedef void (*tide_delay_fn)(const void *record, const tide_time *t, tide_time *later,
                              void *ctx);
/** Holds each record back until its input is complete at the later time @p fn gives it,
 *  then sends it at that time (an earlier time stops the run, naming both). */
tide_stream *tide_delay(tide_stream *s, tide_delay_fn fn, void *ctx);

/** tide_delay() for the root scope's totally ordered times: the same records at the same
 *  times, released by watching the input frontier rather than through notifications (in
 *  a nested scope it stops the run: use tide_delay there). */
tide_stream *tide_delay_total(tide_stream *s, tide_delay_fn fn, void *ctx);

/** Sets *later (a time not before @p t, which it starts as) for a whole batch at @p t. */
typedef void (*tide_delay_batch_fn)(const tide_time *t, tide_time *later, void *ctx);
/** tide_delay() with one new time per batch instead of per record. */
tide_stream *tide_delay_batch(tide_stream *s, tide_delay_batch_fn fn, void *ctx);

/** The records of @p s re-timed by @p clock: once a time of @p clock is complete, every
 *  record of @p s at a time not after it leaves at that time (records at times no clock
 *  time covers stay back; @p clock's records themselves are ignored). */
tide_stream *tide_reclock(tide_stream *s, tide_stream *clock);

/**
 * Keyed state that lives across times: records are exchanged by @p hash (records with the
 * same key must hash alike) and grouped by key (@p same_key); @p step applies each record to
 * its key's state (state_size bytes, zeroed for a key not seen or removed), may give output
 * records to @p out (at the record's time), and returns true to forget the key. Records are
 * applied in time order: all records of a time before any of a later one (within a time, in
 * the order they arrive).
 */
typedef struct tide_state_machine_ops {
    size_t state_size; /**< bytes of state per key */
    /** Which worker a record's key goes to (the same for records of one key). */
    uint64_t (*hash)(const void *record, void *ctx);
    /** Whether two records have the same key. */
    bool (*same_key)(const void *a, const void *b, void *ctx);
    /** Applies a record to its key's state; true forgets the key. */
    bool (*step)(void *state, const void *record, tide_session *out, void *ctx);
} tide_state_machine_ops;
/** See tide_state_machine_ops; @p ops is copied. */
tide_stream *tide_state_machine(tide_stream *s, const tide_type *out,
                                const tide_state_machine_ops *ops, void *ctx);

/** Splits @p s by time: batches at times for which @p pred is true go to *yes, others to *no. */
void tide_branch_when(tide_stream *s, bool (*pred)(const tide_time *t, void *ctx), void *ctx,
                      tide_stream **yes, tide_stream **no);
/**
 * Folds all of a time's records on this worker into one value of type @p out (a fixed-size
 * type; starts as a copy of @p init), emitted once the time is complete. A time at which
 * this worker received no record emits nothing (not @p init).
 */
tide_stream *tide_accumulate(tide_stream *s, const tide_type *out, const void *init,
                             void (*fold)(void *acc, const void *record, void *ctx), void *ctx);
/**
 * A source of the records @p next produces (it stores one in @p record and returns true, or
 * returns false at the end), all at time 0, read at most @p per_step records per
 * activation, so that memory stays bounded whatever the source's size.
 */
tide_stream *tide_to_stream_iter(tide_scope *scope, const tide_type *type,
                                 bool (*next)(void *record, void *ctx), void *ctx,
                                 size_t per_step);

/**
 * Splits @p s in two by @p fn: it fills *ok (a value of @p ok_type) and returns true, or
 * fills *err (a value of @p err_type) and returns false; the values go to *ok_out and
 * *err_out respectively.
 */
void tide_ok_err(tide_stream *s, const tide_type *ok_type, const tide_type *err_type,
                 bool (*fn)(const void *record, void *ok, void *err, void *ctx), void *ctx,
                 tide_stream **ok_out, tide_stream **err_out);

/** Every record to every worker (each worker's output holds all workers' records). */
tide_stream *tide_broadcast(tide_stream *s);

/**
 * Writes @p s to files so that it can be replayed later, in another job or with another
 * number of workers: each worker writes its records, at their times, and the stream's
 * progress to "PREFIX.INDEX" (INDEX: the worker's index), in the format of doc/capture.md.
 * A file is complete once the stream is (it ends with an end event; a run stopped earlier
 * leaves a file that replay rejects). Errors creating or writing a file stop the run.
 */
void tide_capture_into(tide_stream *s, const char *prefix);
/**
 * The stream captured by tide_capture_into() with @p prefix, replayed in @p scope (of the
 * same depth as where it was captured) as records of @p type (the captured type, checked):
 * each worker replays every peers-th file, reading a bounded number of events per step.
 * Records come out at their captured times, and the stream's frontier follows the captured
 * one. A missing, cut short or mismatched file stops the run with a message naming it.
 */
tide_stream *tide_replay_into(tide_scope *scope, const tide_type *type, const char *prefix);

/**
 * Stops the run with a message naming @p what unless every worker of the job passes the
 * same @p len bytes at @p value: for the program's arguments, say, so that ranks started
 * with different ones fail clearly instead of computing inconsistent results. Every worker
 * must call it at the same point (it builds and runs a small dataflow), outside any step.
 */
void tide_check_same(tide_worker *w, const char *what, const void *value, size_t len);

/**
 * Records kept per time until an operator can act on them: timely's HashMap<T, Vec<D>>
 * next to a notificator, for operators of your own. tide_stash_add() appends a batch's
 * records at its capability's time (the first at a time retains a capability there);
 * tide_stash_next() hands out, one at a time, the times no input frontier of the operator
 * can still reach, earliest first, each with its capability:
 *
 *     while (tide_op_next(op, 0, &cap, &b))
 *         tide_stash_add(stash, 0, cap, b);
 *     while (tide_stash_next(stash, op, &cap)) {
 *         tide_batch *records = tide_stash_take(stash, 0);
 *         ... give to tide_op_session(op, 0, cap) ...
 *         tide_batch_free(records);
 *         tide_cap_drop(&cap);
 *     }
 *
 * A stash belongs to one operator (call it from that operator's logic) and counts in
 * tide_memory_held().
 */
typedef struct tide_stash tide_stash;
/** An empty stash. */
tide_stash *tide_stash_new(void);
/** Appends the records of @p batch at the time of @p cap, for input port @p port; all
 *  batches at one port must have one type. The batch stays the caller's to read (and to
 *  give on with tide_session_give_batch()), but not to change: the first batch at a time
 *  and port, when tide_op_next() gave it and it fills most of its buffer, is kept as it is
 *  instead of copied; the later ones are copied onto its end. */
void tide_stash_add(tide_stash *s, uint32_t port, const tide_cap *cap, tide_batch *batch);
/** The earliest stashed time that none of @p op's input frontiers can still reach: true
 *  with its capability in *cap (owned: drop it); its records are then had with
 *  tide_stash_take() until the next call. False (and *cap NULL) when no time is ready. */
bool tide_stash_next(tide_stash *s, tide_op *op, tide_cap **cap);
/** The records stashed at port @p port for the time tide_stash_next() gave last (owned by
 *  the caller from then on), or NULL when that port got none. */
tide_batch *tide_stash_take(tide_stash *s, uint32_t port);
/** A state of the operator's own at the time of @p cap (a table of what was seen then, a
 *  sum), kept like records: the first call at a time retains a capability there. Returns
 *  the time's slot, NULL until the caller stores a pointer in it; tide_stash_next() hands
 *  the time out when the frontiers have passed it, and tide_stash_take_state() gives the
 *  pointer back. Valid until the next call on the stash. */
void **tide_stash_state(tide_stash *s, const tide_cap *cap);
/** The state stored at the time tide_stash_next() gave last (owned by the caller from then
 *  on), or NULL when none was. */
void *tide_stash_take_state(tide_stash *s);
/** Frees the states still held when the stash is freed, and those not taken at the time
 *  handed out (without this: free()). */
void tide_stash_free_states(tide_stash *s, void (*free_state)(void *state));
/** Number of times held. */
size_t tide_stash_len(const tide_stash *s);
/** Drops the capabilities held and frees the stash and what is in it (NULL is ignored). */
void tide_stash_free(tide_stash *s);

#ifdef __cplusplus
}
#endif
#endif
