/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tide/comm.h"

/* Worker counts beyond this are surely typos (and would exhaust threads). */
/* Each channel holds 2 W^2 queues inside a rank (hello -w 512: 0.46 GB, -w 1024: 1.55 GB):
 * past this, more ranks per node serve better than more threads per rank. */
#define MAX_WORKERS 512

static int fail(tide_config *cfg, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cfg->error, sizeof cfg->error, fmt, ap);
    va_end(ap);
    return TIDE_EINVAL;
}

static int parse_workers(tide_config *cfg, const char *what, const char *text)
{
    char *end;
    errno = 0;
    unsigned long long n = strtoull(text, &end, 10);
    /* digits only: strtoull would also take leading blanks and a sign */
    if (*text < '0' || *text > '9' || *end != '\0' || errno)
        return fail(cfg, "%s: '%s' is not a number of workers", what, text);
    if (n == 0)
        return fail(cfg, "%s: 0 workers is out of range (1 to %d)", what, MAX_WORKERS);
    if (n > MAX_WORKERS)
        return fail(cfg, "%s: %s workers per rank is more than tide supports (%d): channels "
                         "inside a rank grow as the square of it; start more ranks per node "
                         "instead", what, text, MAX_WORKERS);
    cfg->workers = (size_t)n;
    return 0;
}

static const char *const bind_names[] = { "none", "core", "pu", "numa" };

const char *tide_bind_name(tide_bind bind)
{
    return (unsigned)bind < 4 ? bind_names[bind] : "?";
}

static int parse_bind(tide_config *cfg, const char *text)
{
    for (int i = 0; i < 4; i++)
        if (strcmp(text, bind_names[i]) == 0) {
            cfg->bind = (tide_bind)i;
            return 0;
        }
    return fail(cfg, "--bind: '%s' is not one of none, core, pu, numa", text);
}

static int parse_progress(tide_config *cfg, const char *text)
{
    if (strcmp(text, "workers") == 0)
        cfg->progress = TIDE_PROGRESS_WORKERS;
    else if (strcmp(text, "thread") == 0)
        cfg->progress = TIDE_PROGRESS_THREAD;
    else
        return fail(cfg, "--progress: '%s' is not one of workers, thread", text);
    return 0;
}

static int parse_progress_mode(tide_config *cfg, const char *text)
{
    if (strcmp(text, "eager") == 0)
        cfg->progress_mode = TIDE_PROGRESS_EAGER;
    else if (strcmp(text, "demand") == 0)
        cfg->progress_mode = TIDE_PROGRESS_DEMAND;
    else
        return fail(cfg, "--progress-mode: '%s' is not one of eager, demand", text);
    return 0;
}

static int parse_tree(tide_config *cfg, const char *text)
{
    char *end;
    errno = 0;
    long k = strtol(text, &end, 10);
    if (*text < '0' || *text > '9' || *end || errno || k == 1 || k > 4096)
        return fail(cfg, "--progress-tree: '%s' is not 0 (no tree) or an arity from 2 to 4096",
                    text);
    cfg->progress_tree = (int)k;
    return 0;
}

static int parse_share(tide_config *cfg, const char *text)
{
    char *end;
    errno = 0;
    unsigned long long w = strtoull(text, &end, 10);
    if (*text < '0' || *text > '9' || *end || errno || w > 1000000)
        return fail(cfg, "--progress-share: '%s' is not a number of workers (0: never share)",
                    text);
    cfg->progress_share = (size_t)w;
    return 0;
}

static int parse_shm(tide_config *cfg, const char *text)
{
    if (strcmp(text, "on") == 0)
        cfg->shm = true;
    else if (strcmp(text, "off") == 0)
        cfg->shm = false;
    else
        return fail(cfg, "--shm: '%s' is not one of on, off", text);
    return 0;
}

/* Watch intervals: longer than a day is surely a typo; shorter than 10 ms would spend the
 * job on its own status. */
static int parse_watch(tide_config *cfg, const char *text)
{
    char *end;
    errno = 0;
    double s = strtod(text, &end);
    if (*text < '0' || *text > '9' || *end || errno || !(s >= 0.01 && s <= 86400))
        return fail(cfg, "--watch: '%s' is not a number of seconds from 0.01 to 86400", text);
    cfg->watch = s;
    return 0;
}

/* The least --memory takes: a rank's fixed buffers alone (4 preposted receive frames of
 * 68 KiB, the pools' first batches) come near it, so a smaller budget could never be met. */
#define MIN_MEMORY (1u << 20)

/* "512M", "2G", "1.5g", "64KiB", "1048576": binary multiples, a byte count without one. */
static int parse_memory(tide_config *cfg, const char *text)
{
    char *end;
    errno = 0;
    double v = strtod(text, &end);
    const char *units = "KMGT";
    const char *u = *end ? strchr(units, *end >= 'a' ? *end - 'a' + 'A' : *end) : NULL;
    double scale = 1;
    if (u && *end) {
        for (const char *k = units; k <= u; k++)
            scale *= 1024;
        end++;
        if (*end == 'i')
            end++;
        if (*end == 'B' || *end == 'b')
            end++;
    } else if (*end == 'B' || *end == 'b') {
        end++;
    }
    if (*text < '0' || *text > '9' || *end || errno || !(v * scale < 0x1p62))
        return fail(cfg, "--memory: '%s' is not a size (e.g. 512M, 2G, 1.5G, 65536)", text);
    if (v * scale < MIN_MEMORY)
        return fail(cfg, "--memory %s: below the 1M a rank needs for its own buffers", text);
    cfg->memory = (uint64_t)(v * scale);
    return 0;
}

int tide_config_init(tide_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->workers = 1;
    cfg->bind = TIDE_BIND_CORE;
    cfg->progress_mode = TIDE_PROGRESS_DEMAND; /* fewer messages, never slower measured */
    cfg->progress_tree = -1;
    cfg->progress_share = TIDE_SHARE_WORKERS;
    cfg->shm = true;
    const char *w = getenv("TIDE_WORKERS");
    if (w && *w)
        return parse_workers(cfg, "TIDE_WORKERS", w);
    w = getenv("SLURM_CPUS_PER_TASK");
    if (w && *w)
        return parse_workers(cfg, "SLURM_CPUS_PER_TASK", w);
    return 0;
}

/* Matches "--name VALUE" and "--name=VALUE"; *value is NULL when the value is missing. */
static bool long_opt(char **argv, int argc, int *i, const char *name, const char **value)
{
    size_t n = strlen(name);
    if (strncmp(argv[*i], name, n) != 0)
        return false;
    if (argv[*i][n] == '=') {
        *value = argv[*i] + n + 1;
        return true;
    }
    if (argv[*i][n] != '\0')
        return false;
    *value = *i + 1 < argc ? argv[++*i] : NULL;
    return true;
}

int tide_config_from_args(tide_config *cfg, int *argc, char **argv)
{
    int n = *argc, out = 1, rc = 0;
    bool done = false;
    for (int i = 1; i < n && rc == 0; i++) {
        const char *arg = argv[i], *value;
        if (done || arg[0] != '-') {
            argv[out++] = argv[i];
        } else if (strcmp(arg, "--") == 0) {
            done = true;
        } else if (strcmp(arg, "-w") == 0) {
            rc = i + 1 < n ? parse_workers(cfg, "-w", argv[++i])
                           : fail(cfg, "-w needs a number of workers");
        } else if (strncmp(arg, "-w", 2) == 0 && arg[2] != '-') {
            rc = parse_workers(cfg, "-w", arg + 2);
        } else if (long_opt(argv, n, &i, "--workers", &value)) {
            rc = value ? parse_workers(cfg, "--workers", value)
                       : fail(cfg, "--workers needs a number of workers");
        } else if (long_opt(argv, n, &i, "--bind", &value)) {
            rc = value ? parse_bind(cfg, value)
                       : fail(cfg, "--bind needs one of none, core, pu, numa");
        } else if (long_opt(argv, n, &i, "--progress", &value)) {
            rc = value ? parse_progress(cfg, value)
                       : fail(cfg, "--progress needs one of workers, thread");
        } else if (long_opt(argv, n, &i, "--progress-mode", &value)) {
            rc = value ? parse_progress_mode(cfg, value)
                       : fail(cfg, "--progress-mode needs one of eager, demand");
        } else if (long_opt(argv, n, &i, "--progress-tree", &value)) {
            rc = value ? parse_tree(cfg, value)
                       : fail(cfg, "--progress-tree needs an arity (2 or more) or 0");
        } else if (long_opt(argv, n, &i, "--progress-share", &value)) {
            rc = value ? parse_share(cfg, value)
                       : fail(cfg, "--progress-share needs a number of workers (0: never)");
        } else if (long_opt(argv, n, &i, "--shm", &value)) {
            rc = value ? parse_shm(cfg, value) : fail(cfg, "--shm needs one of on, off");
        } else if (long_opt(argv, n, &i, "--dot", &value)) {
            if (value && *value)
                cfg->dot = value;
            else
                rc = fail(cfg, "--dot needs a file name");
        } else if (long_opt(argv, n, &i, "--trace", &value)) {
            size_t len = value ? strlen(value) : 0;
            bool otf2 = len >= 5 && strcmp(value + len - 5, ".otf2") == 0;
            if (!len)
                rc = fail(cfg, "--trace needs a file name (FILE.json or FILE.otf2)");
            else if (otf2 && (len == 5 || value[len - 6] == '/'))
                rc = fail(cfg, "--trace %s: the archive needs a name before .otf2", value);
#ifndef TIDE_HAVE_OTF2
            else if (otf2)
                rc = fail(cfg, "--trace %s: this tide was built without OTF2 (configure found "
                               "no libotf2: apt-get install libotf2-trace-dev, then configure "
                               "and build again); give a .json file (Chrome/Perfetto trace)",
                          value);
#endif
            else if (otf2 ? cfg->trace_otf2 != NULL : cfg->trace != NULL)
                rc = fail(cfg, "--trace given twice for %s files ('%s' and '%s'): give one "
                               "JSON and one .otf2 at most", otf2 ? "OTF2" : "JSON",
                          otf2 ? cfg->trace_otf2 : cfg->trace, value);
            else if (otf2)
                cfg->trace_otf2 = value;
            else
                cfg->trace = value;
        } else if (long_opt(argv, n, &i, "--watch", &value)) {
            rc = value ? parse_watch(cfg, value)
                       : fail(cfg, "--watch needs a number of seconds");
        } else if (long_opt(argv, n, &i, "--memory", &value)) {
            rc = value ? parse_memory(cfg, value)
                       : fail(cfg, "--memory needs a size (e.g. 512M, 2G)");
        } else if (long_opt(argv, n, &i, "--spill-dir", &value)) {
            if (value && *value)
                cfg->spill_dir = value;
            else
                rc = fail(cfg, "--spill-dir needs a directory");
        } else if (strcmp(arg, "--report-bindings") == 0) {
            cfg->report_bindings = true;
        } else if (strcmp(arg, "--stats") == 0) {
            cfg->stats = true;
        } else {
            argv[out++] = argv[i];
        }
    }
    if (rc)
        return rc;
    argv[out] = NULL;
    *argc = out;
    return 0;
}
