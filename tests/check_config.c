/* SPDX-License-Identifier: MIT */
#include "check_main.h"
#include <stdlib.h>
#include <string.h>

#include <tide.h>

/* Parses a NULL-terminated list of arguments (argv[0] included) into cfg; the remaining
 * arguments are left in args/argc. */
static int parse(tide_config *cfg, int *argc, char **args, const char *const *in)
{
    int n = 0;
    while (in[n]) {
        args[n] = (char *)in[n];
        n++;
    }
    args[n] = NULL;
    *argc = n;
    ck_assert_int_eq(tide_config_init(cfg), 0);
    return tide_config_from_args(cfg, argc, args);
}

START_TEST(test_defaults)
{
    unsetenv("TIDE_WORKERS");
    unsetenv("SLURM_CPUS_PER_TASK");
    tide_config cfg;
    ck_assert_int_eq(tide_config_init(&cfg), 0);
    ck_assert_uint_eq(cfg.workers, 1);
    ck_assert_int_eq(cfg.bind, TIDE_BIND_CORE);
    ck_assert(!cfg.report_bindings);
    ck_assert(!cfg.stats);
    ck_assert_int_eq(cfg.launch, TIDE_LAUNCH_AUTO);
}
END_TEST

START_TEST(test_worker_forms)
{
    static const char *const forms[][4] = {
        { "prog", "-w", "3", NULL },  { "prog", "-w3", NULL, NULL },
        { "prog", "--workers", "3", NULL }, { "prog", "--workers=3", NULL, NULL },
    };
    for (size_t i = 0; i < sizeof forms / sizeof *forms; i++) {
        tide_config cfg;
        char *args[8];
        int argc;
        ck_assert_int_eq(parse(&cfg, &argc, args, forms[i]), 0);
        ck_assert_uint_eq(cfg.workers, 3);
        ck_assert_int_eq(argc, 1);
        ck_assert_ptr_null(args[1]);
    }
}
END_TEST

START_TEST(test_leaves_program_arguments)
{
    static const char *const in[] = { "prog", "input.txt", "-w", "2", "--bind", "pu", "-v",
                                      "--report-bindings", "10", "--stats", "--", "-w", "7",
                                      NULL };
    tide_config cfg;
    char *args[16];
    int argc;
    ck_assert_int_eq(parse(&cfg, &argc, args, in), 0);
    ck_assert_uint_eq(cfg.workers, 2);
    ck_assert_int_eq(cfg.bind, TIDE_BIND_PU);
    ck_assert(cfg.report_bindings);
    ck_assert(cfg.stats);
    ck_assert_int_eq(argc, 6);
    ck_assert_str_eq(args[0], "prog");
    ck_assert_str_eq(args[1], "input.txt");
    ck_assert_str_eq(args[2], "-v");
    ck_assert_str_eq(args[3], "10");
    ck_assert_str_eq(args[4], "-w"); /* after "--": the program's */
    ck_assert_str_eq(args[5], "7");
    ck_assert_ptr_null(args[6]);
}
END_TEST

START_TEST(test_progress_modes)
{
    static const char *const in[] = { "prog", "--progress=thread", NULL };
    tide_config cfg;
    char *args[8];
    int argc;
    ck_assert_int_eq(parse(&cfg, &argc, args, in), 0);
    ck_assert_int_eq(cfg.progress, TIDE_PROGRESS_THREAD);
    static const char *const in2[] = { "prog", "--progress", "workers", NULL };
    ck_assert_int_eq(parse(&cfg, &argc, args, in2), 0);
    ck_assert_int_eq(cfg.progress, TIDE_PROGRESS_WORKERS);
    ck_assert_int_eq(argc, 1);
    ck_assert_int_eq(cfg.progress_mode, TIDE_PROGRESS_DEMAND);
    static const char *const in3[] = { "prog", "--progress-mode", "eager", "x", NULL };
    ck_assert_int_eq(parse(&cfg, &argc, args, in3), 0);
    ck_assert_int_eq(cfg.progress_mode, TIDE_PROGRESS_EAGER);
    ck_assert_int_eq(cfg.progress, TIDE_PROGRESS_WORKERS);
    ck_assert_int_eq(argc, 2);
    static const char *const in4[] = { "prog", "--progress-mode=demand", NULL };
    ck_assert_int_eq(parse(&cfg, &argc, args, in4), 0);
    ck_assert_int_eq(cfg.progress_mode, TIDE_PROGRESS_DEMAND);
    ck_assert_int_eq(cfg.progress_tree, -1); /* by the number of ranks */
    static const char *const in5[] = { "prog", "--progress-tree", "4", "--progress-tree=0",
                                       "y", NULL };
    ck_assert_int_eq(parse(&cfg, &argc, args, in5), 0);
    ck_assert_int_eq(cfg.progress_tree, 0);
    ck_assert_int_eq(argc, 2);
    static const char *const in6[] = { "prog", "--progress-tree=16", NULL };
    ck_assert_uint_eq(cfg.progress_share, TIDE_SHARE_WORKERS);
    ck_assert_int_eq(parse(&cfg, &argc, args, in6), 0);
    ck_assert_int_eq(cfg.progress_tree, 16);
    static const char *const in6b[] = { "prog", "--progress-share", "0", "--progress-share=2",
                                        NULL };
    ck_assert_int_eq(parse(&cfg, &argc, args, in6b), 0);
    ck_assert_uint_eq(cfg.progress_share, 2);
    ck_assert(cfg.watch == 0); /* none unless asked */
    static const char *const in7[] = { "prog", "--watch", "2.5", "z", "--watch=0.25", NULL };
    ck_assert_int_eq(parse(&cfg, &argc, args, in7), 0);
    ck_assert(cfg.watch == 0.25);
    ck_assert_int_eq(argc, 2);
    ck_assert_ptr_null(cfg.trace);
    static const char *const in8[] = { "prog", "--trace=t.json", NULL };
    ck_assert_int_eq(parse(&cfg, &argc, args, in8), 0);
    ck_assert_str_eq(cfg.trace, "t.json");
    ck_assert_ptr_null(cfg.trace_otf2);
#ifdef TIDE_HAVE_OTF2
    static const char *const in9[] = { "prog", "--trace", "t.otf2", "--trace=u.json", NULL };
    ck_assert_int_eq(parse(&cfg, &argc, args, in9), 0);
    ck_assert_str_eq(cfg.trace_otf2, "t.otf2");
    ck_assert_str_eq(cfg.trace, "u.json");
#endif
    ck_assert(cfg.memory == 0); /* no budget unless asked */
    static const struct {
        const char *text;
        uint64_t bytes;
    } sizes[] = { { "512M", 512ull << 20 }, { "2G", 2ull << 30 },     { "1.5g", 3ull << 29 },
                  { "64MiB", 64ull << 20 }, { "2048KB", 2ull << 20 }, { "1048576", 1ull << 20 },
                  { "1T", 1ull << 40 },     { "3000000b", 3000000 } };
    for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
        const char *size_args[] = { "prog", "--memory", sizes[i].text, NULL };
        ck_assert_int_eq(parse(&cfg, &argc, args, size_args), 0);
        ck_assert_msg(cfg.memory == sizes[i].bytes, "--memory %s gave %llu", sizes[i].text,
                      (unsigned long long)cfg.memory);
        ck_assert_int_eq(argc, 1);
    }
    ck_assert_ptr_null(cfg.spill_dir);
    static const char *const in11[] = { "prog", "--spill-dir", "/scratch", NULL };
    ck_assert_int_eq(parse(&cfg, &argc, args, in11), 0);
    ck_assert_str_eq(cfg.spill_dir, "/scratch");
    static const char *const in10[] = { "prog", "--memory=8M", "v", NULL };
    ck_assert_int_eq(parse(&cfg, &argc, args, in10), 0);
    ck_assert(cfg.memory == 8ull << 20);
    ck_assert_int_eq(argc, 2);
}
END_TEST

START_TEST(test_bind_modes)
{
    static const char *const modes[] = { "none", "core", "pu", "numa" };
    for (int i = 0; i < 4; i++) {
        const char *in[] = { "prog", "--bind", modes[i], NULL };
        tide_config cfg;
        char *args[8];
        int argc;
        ck_assert_int_eq(parse(&cfg, &argc, args, in), 0);
        ck_assert_int_eq(cfg.bind, i);
        ck_assert_str_eq(tide_bind_name(cfg.bind), modes[i]);
    }
}
END_TEST

/* Each bad argument: TIDE_EINVAL and a message naming what was wrong. */
static const struct {
    const char *args[6];
    const char *message;
} bad[] = {
    { { "prog", "-w", "0", NULL }, "-w: 0 workers is out of range" },
    { { "prog", "-w", "abc", NULL }, "-w: 'abc' is not a number of workers" },
    { { "prog", "-w", "-2", NULL }, "-w: '-2' is not a number of workers" },
    { { "prog", "-w", "3x", NULL }, "-w: '3x' is not a number of workers" },
    { { "prog", "-w", "99999999", NULL }, "99999999 workers per rank is more than tide supports" },
    { { "prog", "-w", "513", NULL }, "513 workers per rank is more than tide supports (512)" },
    { { "prog", "-w", " 2", NULL }, "-w: ' 2' is not a number of workers" },
    { { "prog", "-w", "+2", NULL }, "-w: '+2' is not a number of workers" },
    { { "prog", "-w", "99999999999999999999", NULL }, "is not a number of workers" },
    { { "prog", "-w", NULL, NULL }, "-w needs a number of workers" },
    { { "prog", "--workers", NULL, NULL }, "--workers needs a number of workers" },
    { { "prog", "--workers=", NULL, NULL }, "--workers: '' is not a number" },
    { { "prog", "--bind", "bogus", NULL }, "--bind: 'bogus' is not one of none, core, pu, numa" },
    { { "prog", "--bind", NULL, NULL }, "--bind needs one of" },
    { { "prog", "--progress", "fast", NULL }, "--progress: 'fast' is not one of workers, thread" },
    { { "prog", "--progress", NULL, NULL }, "--progress needs one of workers, thread" },
    { { "prog", "--progress-mode", "lazy", NULL },
      "--progress-mode: 'lazy' is not one of eager, demand" },
    { { "prog", "--progress-mode", NULL, NULL }, "--progress-mode needs one of eager, demand" },
    { { "prog", "--progress-tree", "1", NULL },
      "--progress-tree: '1' is not 0 (no tree) or an arity from 2 to 4096" },
    { { "prog", "--progress-tree", "-3", NULL }, "--progress-tree: '-3' is not 0" },
    { { "prog", "--progress-tree", "8x", NULL }, "--progress-tree: '8x' is not 0" },
    { { "prog", "--progress-tree", "5000", NULL }, "--progress-tree: '5000' is not 0" },
    { { "prog", "--progress-tree", NULL, NULL }, "--progress-tree needs an arity" },
    { { "prog", "--progress-share", "-1", NULL },
      "--progress-share: '-1' is not a number of workers (0: never share)" },
    { { "prog", "--progress-share", "4w", NULL }, "--progress-share: '4w' is not a number" },
    { { "prog", "--progress-share", NULL, NULL }, "--progress-share needs a number of workers" },
    { { "prog", "--watch", "0", NULL },
      "--watch: '0' is not a number of seconds from 0.01 to 86400" },
    { { "prog", "--watch", "soon", NULL }, "--watch: 'soon' is not a number of seconds" },
    { { "prog", "--watch", "-1", NULL }, "--watch: '-1' is not a number of seconds" },
    { { "prog", "--watch=2s", NULL, NULL }, "--watch: '2s' is not a number of seconds" },
    { { "prog", "--watch", "1e9", NULL }, "--watch: '1e9' is not a number of seconds" },
    { { "prog", "--watch", NULL, NULL }, "--watch needs a number of seconds" },
    { { "prog", "--memory", NULL, NULL }, "--memory needs a size (e.g. 512M, 2G)" },
    { { "prog", "--spill-dir", NULL, NULL }, "--spill-dir needs a directory" },
    { { "prog", "--spill-dir=", NULL, NULL }, "--spill-dir needs a directory" },
    { { "prog", "--memory", "lots", NULL }, "--memory: 'lots' is not a size" },
    { { "prog", "--memory", "5Q", NULL }, "--memory: '5Q' is not a size" },
    { { "prog", "--memory", "-1G", NULL }, "--memory: '-1G' is not a size" },
    { { "prog", "--memory", "2GG", NULL }, "--memory: '2GG' is not a size" },
    { { "prog", "--memory", "1e30", NULL }, "--memory: '1e30' is not a size" },
    { { "prog", "--memory=512K", NULL, NULL }, "--memory 512K: below the 1M a rank needs" },
    { { "prog", "--memory", "0", NULL }, "--memory 0: below the 1M" },
    { { "prog", "--trace", NULL, NULL }, "--trace needs a file name" },
    { { "prog", "--trace=", NULL, NULL }, "--trace needs a file name" },
    { { "prog", "--trace", "a.json", "--trace=b.json" },
      "--trace given twice for JSON files ('a.json' and 'b.json')" },
#ifdef TIDE_HAVE_OTF2
    { { "prog", "--trace", ".otf2", NULL }, "--trace .otf2: the archive needs a name" },
    { { "prog", "--trace", "a.otf2", "--trace=b.otf2" },
      "--trace given twice for OTF2 files ('a.otf2' and 'b.otf2')" },
#else
    { { "prog", "--trace", "run.otf2", NULL }, "--trace run.otf2: this tide was built without OTF2" },
#endif
};

START_TEST(test_bad_arguments)
{
    tide_config cfg;
    char *args[8];
    int argc;
    ck_assert_int_eq(parse(&cfg, &argc, args, bad[_i].args), TIDE_EINVAL);
    ck_assert_msg(strstr(cfg.error, bad[_i].message), "message '%s' lacks '%s'", cfg.error,
                  bad[_i].message);
}
END_TEST

START_TEST(test_environment)
{
    tide_config cfg;
    unsetenv("TIDE_WORKERS");
    setenv("SLURM_CPUS_PER_TASK", "4", 1);
    ck_assert_int_eq(tide_config_init(&cfg), 0);
    ck_assert_uint_eq(cfg.workers, 4);
    setenv("TIDE_WORKERS", "2", 1); /* ours wins over Slurm's */
    ck_assert_int_eq(tide_config_init(&cfg), 0);
    ck_assert_uint_eq(cfg.workers, 2);
    setenv("TIDE_WORKERS", "two", 1);
    ck_assert_int_eq(tide_config_init(&cfg), TIDE_EINVAL);
    ck_assert_ptr_nonnull(strstr(cfg.error, "TIDE_WORKERS: 'two'"));
    unsetenv("TIDE_WORKERS");
    setenv("SLURM_CPUS_PER_TASK", "0", 1);
    ck_assert_int_eq(tide_config_init(&cfg), TIDE_EINVAL);
    ck_assert_ptr_nonnull(strstr(cfg.error, "SLURM_CPUS_PER_TASK"));
    unsetenv("SLURM_CPUS_PER_TASK");
}
END_TEST

START_TEST(test_errors_have_names)
{
    ck_assert_str_eq(tide_strerror(TIDE_EINVAL), "invalid argument");
    ck_assert_str_eq(tide_err_name(TIDE_EMISMATCH), "TIDE_EMISMATCH");
    ck_assert_str_eq(tide_strerror(0), "success");
    ck_assert_str_eq(tide_strerror(-999), "unknown tide error");
    ck_assert_uint_eq(tide_version(), TIDE_VERSION_HEX);
    ck_assert_str_eq(tide_version_string(), TIDE_VERSION_STRING);
}
END_TEST

int main(void)
{
    TCase *tc = tcase_create("config");
    tcase_add_test(tc, test_defaults);
    tcase_add_test(tc, test_worker_forms);
    tcase_add_test(tc, test_leaves_program_arguments);
    tcase_add_test(tc, test_bind_modes);
    tcase_add_test(tc, test_progress_modes);
    tcase_add_loop_test(tc, test_bad_arguments, 0, sizeof bad / sizeof *bad);
    tcase_add_test(tc, test_environment);
    tcase_add_test(tc, test_errors_have_names);
    return run_suite("config", tc, CK_FORK) ? EXIT_FAILURE : EXIT_SUCCESS;
}
