/* SPDX-License-Identifier: MIT */
/** @file tide/error.h  Error codes returned by tide calls. */
#ifndef TIDE_ERROR_H
#define TIDE_ERROR_H

/** One list generates the codes, tide_strerror() and tide_err_name(): X(name, value, text). */
#define TIDE_ERRNO_MAP(X)                                                      \
    X(EINVAL, -1, "invalid argument")                                          \
    X(ENOMEM, -2, "out of memory")                                             \
    X(EMPI, -3, "MPI call failed")                                             \
    X(EMISMATCH, -4, "ranks disagree on the configuration")                    \
    X(ENOENT, -5, "no such file or directory")                                 \
    X(EIO, -6, "input/output error")                                           \
    X(EHWLOC, -7, "hwloc call failed")                                         \
    X(ETHREAD, -8, "could not start a thread")                                 \
    X(ELAUNCH, -9, "the launcher and MPI disagree about the job")              \
    X(ETYPE, -10, "record types do not match")                                 \
    X(EPROTO, -11, "malformed message from another rank")                      \
    X(EGONE, -12, "the operator's dataflow is gone")

/** Error codes: every failing tide call returns one of these (all negative). */
enum tide_errno {
    TIDE_OK = 0,
#define TIDE__ERRNO_ENUM(name, value, text) TIDE_##name = value,
    TIDE_ERRNO_MAP(TIDE__ERRNO_ENUM)
#undef TIDE__ERRNO_ENUM
};

/** A static English description of @p err (any int; unknown codes get a generic text). */
const char *tide_strerror(int err);
/** The code's name, e.g. "TIDE_EINVAL" (static storage). */
const char *tide_err_name(int err);

#endif
