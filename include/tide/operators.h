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
/** Calls @p fn on every record, passing the stream on unchanged. */
tide_stream *tide_inspect(tide_stream *s, tide_record_fn fn, void *ctx);
/** Sends each record to worker hash(record) % peers. */
tide_stream *tide_exchange(tide_stream *s, tide_hash_fn hash, void *ctx);

#ifdef __cplusplus
}
#endif
#endif
