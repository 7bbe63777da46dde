/* SPDX-License-Identifier: MIT */
/*
 * harness.c - the runner behind every test program (see test.h).
 *
 * Each test runs in a child process started with fork() from this
 * single-threaded runner, inside a fresh directory under $TMPDIR, with an
 * alarm as its timeout.  The parent reports "ok"/"FAIL" per test and ends
 * with "<program>: N passed, N failed", the line scripts/run-tests adds up.
 */
#define _GNU_SOURCE
#include "test.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static char start_dir[PATH_MAX];
static char build_dir[PATH_MAX];
static char src_dir[PATH_MAX];

const char *test_start_dir(void) { return start_dir; }
const char *test_build_dir(void) { return build_dir; }
const char *test_src_dir(void) { return src_dir; }

void test_fail(const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    fflush(stdout);
    fprintf(stderr, "    %s:%d: ", file, line);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    fflush(stderr);
    _exit(1);
}

void test_write_file(const char *path, const char *content)
{
    FILE *f = fopen(path, "wb");
    if (!f) test_fail(__FILE__, __LINE__, "cannot write %s: %s", path, strerror(errno));
    size_t n = strlen(content);
    if (fwrite(content, 1, n, f) != n || fclose(f) != 0)
        test_fail(__FILE__, __LINE__, "cannot write %s: %s", path, strerror(errno));
}

char *test_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) test_fail(__FILE__, __LINE__, "cannot read %s: %s", path, strerror(errno));
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    for (;;) {
        if (!buf) test_fail(__FILE__, __LINE__, "out of memory");
        n += fread(buf + n, 1, cap - n - 1, f);
        if (n < cap - 1) break;
        cap *= 2;
        buf = realloc(buf, cap);
    }
    fclose(f);
    buf[n] = '\0';
    if (len) *len = n;
    return buf;
}

int test_run_cmd(const char *cmd, char **output)
{
    char *full;
    if (asprintf(&full, "(%s) 2>&1", cmd) < 0) test_fail(__FILE__, __LINE__, "out of memory");
    FILE *p = popen(full, "r");
    free(full);
    if (!p) test_fail(__FILE__, __LINE__, "popen: %s", strerror(errno));
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    size_t got;
    while (buf && (got = fread(buf + n, 1, cap - n - 1, p)) > 0) {
        n += got;
        if (cap - n - 1 == 0) buf = realloc(buf, cap *= 2);
    }
    if (!buf) test_fail(__FILE__, __LINE__, "out of memory");
    buf[n] = '\0';
    int st = pclose(p);
    if (output)
        *output = buf;
    else
        free(buf);
    if (st == -1) return -1;
    if (WIFEXITED(st)) return WEXITSTATUS(st);
    return 128 + WTERMSIG(st);
}

const char *test_weft_bin(void)
{
    static char path[sizeof build_dir + 8];
    if (!path[0]) snprintf(path, sizeof path, "%s/weft", test_build_dir());
    return path;
}

int test_weft(char **out, const char *fmt, ...)
{
    char args[4096], *cmd;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof args, fmt, ap);
    va_end(ap);
    if (asprintf(&cmd, "'%s' %s", test_weft_bin(), args) < 0)
        test_fail(__FILE__, __LINE__, "out of memory");
    int rc = test_run_cmd(cmd, out);
    free(cmd);
    printf("    $ weft %s  -> %d\n", args, rc);
    return rc;
}

static void remove_tree(const char *dir)
{
    char *cmd;
    if (asprintf(&cmd, "rm -rf '%s'", dir) >= 0) {
        if (system(cmd) != 0) fprintf(stderr, "warning: could not remove %s\n", dir);
        free(cmd);
    }
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Runs one case in a child; returns true when it passed. */
static bool run_one(const char *prog, const test_case *tc, bool nofork, bool keep)
{
    char dir[PATH_MAX];
    const char *tmp = getenv("TMPDIR");
    snprintf(dir, sizeof dir, "%s/weft-test-%s-XXXXXX", tmp && *tmp ? tmp : "/tmp", tc->name);
    if (!mkdtemp(dir)) {
        fprintf(stderr, "mkdtemp: %s\n", strerror(errno));
        return false;
    }
    int timeout = tc->timeout_s > 0 ? tc->timeout_s : 60;
    const char *scale = getenv("TEST_TIMEOUT_SCALE");
    if (scale && atoi(scale) > 1) timeout *= atoi(scale);

    double t0 = now_s();
    int status = 0;
    if (nofork) {
        if (chdir(dir) != 0) return false;
        tc->fn();
        if (chdir(start_dir) != 0) return false;
    } else {
        fflush(stdout);
        fflush(stderr);
        pid_t pid = fork();
        if (pid < 0) {
            fprintf(stderr, "fork: %s\n", strerror(errno));
            return false;
        }
        if (pid == 0) {
            setpgid(0, 0); /* so the whole group can be killed on timeout */
            if (chdir(dir) != 0) _exit(3);
            alarm((unsigned)timeout);
            tc->fn();
            fflush(stdout);
            fflush(stderr);
            exit(0); /* exit, not _exit: lets sanitizers report leaks */
        }
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
        kill(-pid, SIGKILL); /* anything the test left behind */
    }
    double dt = now_s() - t0;
    bool ok = nofork || (WIFEXITED(status) && WEXITSTATUS(status) == 0);
    if (ok) {
        printf("ok   %s.%s (%.2fs)\n", prog, tc->name, dt);
    } else if (WIFSIGNALED(status) && WTERMSIG(status) == SIGALRM) {
        printf("FAIL %s.%s: timed out after %d s\n", prog, tc->name, timeout);
    } else if (WIFSIGNALED(status)) {
        printf("FAIL %s.%s: killed by signal %d (%s)\n", prog, tc->name, WTERMSIG(status),
               strsignal(WTERMSIG(status)));
    } else {
        printf("FAIL %s.%s: exit status %d\n", prog, tc->name, WEXITSTATUS(status));
    }
    fflush(stdout);
    if (!keep) remove_tree(dir);
    else printf("     kept %s\n", dir);
    return ok;
}

static void resolve_dirs(const char *argv0)
{
    if (!getcwd(start_dir, sizeof start_dir)) strcpy(start_dir, ".");
    /* Test programs live in <build>/tests/; the source tree is the start dir
     * unless WEFT_SRC_DIR says otherwise. */
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n > 0) {
        self[n] = '\0';
        char *slash = strrchr(self, '/');
        if (slash) *slash = '\0'; /* <build>/tests */
        slash = strrchr(self, '/');
        if (slash) *slash = '\0'; /* <build> */
        snprintf(build_dir, sizeof build_dir, "%s", self);
    } else {
        snprintf(build_dir, sizeof build_dir, "%s", argv0);
    }
    const char *s = getenv("WEFT_SRC_DIR");
    snprintf(src_dir, sizeof src_dir, "%s", s && *s ? s : start_dir);
}

int test_run(int argc, char **argv, const test_case *cases, size_t n)
{
    const char *prog = strrchr(argv[0], '/');
    prog = prog ? prog + 1 : argv[0];
    resolve_dirs(argv[0]);
    const char *filter = argc > 1 ? argv[1] : getenv("TEST_FILTER");
    bool nofork = getenv("TEST_NOFORK") && *getenv("TEST_NOFORK") == '1';
    bool keep = getenv("TEST_KEEP") && *getenv("TEST_KEEP") == '1';
    signal(SIGPIPE, SIG_IGN);

    size_t passed = 0, failed = 0;
    for (size_t i = 0; i < n; i++) {
        if (filter && *filter && !strstr(cases[i].name, filter)) continue;
        if (run_one(prog, &cases[i], nofork, keep))
            passed++;
        else
            failed++;
    }
    printf("%s: %zu passed, %zu failed\n", prog, passed, failed);
    return failed ? 1 : 0;
}
