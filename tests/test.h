/* SPDX-License-Identifier: MIT */
/*
 * test.h - assertions and test registration for weft's test programs.
 *
 * Each tests/test_*.c file is one program.  It defines tests with TEST(name)
 * and lists them with TEST_MAIN(...).  The runner in harness.c runs every
 * test in its own child process, in a fresh temporary directory, with a
 * timeout, so a test that crashes, hangs or leaves threads behind cannot
 * disturb the next one.  Assertions print both values and are never compiled
 * out (they do not depend on NDEBUG).
 *
 * Useful environment variables:
 *   TEST_FILTER=substr   run only tests whose name contains substr
 *   TEST_NOFORK=1        run tests in-process (for gdb)
 *   TEST_KEEP=1          keep each test's temporary directory
 */
#ifndef WEFT_TEST_H
#define WEFT_TEST_H

#include <inttypes.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct test_case {
    const char *name;
    void (*fn)(void);
    int timeout_s; /* 0: the default (60 s; scaled by TEST_TIMEOUT_SCALE) */
} test_case;

/* Reports a failed assertion and ends the test process (exit status 1). */
_Noreturn void test_fail(const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Runs the cases; prints "<prog>: N passed, N failed" last.  Returns the exit status. */
int test_run(int argc, char **argv, const test_case *cases, size_t n);

/* The directory the program was started from (tests run in a temp dir). */
const char *test_start_dir(void);
/* The absolute path of the build directory (where weft and libweft live). */
const char *test_build_dir(void);
/* The absolute path of the source tree's top directory. */
const char *test_src_dir(void);

/* Helpers for files: write a whole file / read one (caller frees). Fail the test on error. */
void test_write_file(const char *path, const char *content);
char *test_read_file(const char *path, size_t *len);
/* `s`, or "" when NULL (lets ASSERT_OK take an array or a pointer). */
static inline const char *test_str_or_empty(const char *s) { return s ? s : ""; }
/* Run a shell command, capture stdout+stderr (caller frees) and return its exit status. */
int test_run_cmd(const char *cmd, char **output);
/* The weft command of the build directory (an absolute path). */
const char *test_weft_bin(void);
/* Runs `weft ARGS` through the shell from the current folder, printing the
 * command line and its exit status; stdout+stderr in *out (caller frees;
 * out may be NULL).  Returns the exit status. */
int test_weft(char **out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define TEST(name) static void name(void)
#define TEST_ENTRY(name) {#name, name, 0}
#define TEST_ENTRY_TIMEOUT(name, secs) {#name, name, secs}
#define TEST_MAIN(...)                                                            \
    int main(int argc, char **argv) {                                             \
        static const test_case cases_[] = {__VA_ARGS__};                          \
        return test_run(argc, argv, cases_, sizeof cases_ / sizeof cases_[0]);    \
    }

#define FAIL(...) test_fail(__FILE__, __LINE__, __VA_ARGS__)

#define ASSERT(cond)                                                              \
    do {                                                                          \
        if (!(cond)) FAIL("assertion failed: %s", #cond);                         \
    } while (0)

#define ASSERT_INT_OP(a, op, b)                                                   \
    do {                                                                          \
        long long a_ = (long long)(a), b_ = (long long)(b);                       \
        if (!(a_ op b_))                                                          \
            FAIL("assertion failed: %s %s %s (%lld vs %lld)", #a, #op, #b, a_, b_); \
    } while (0)

#define ASSERT_EQ(a, b) ASSERT_INT_OP(a, ==, b)
#define ASSERT_NE(a, b) ASSERT_INT_OP(a, !=, b)
#define ASSERT_LT(a, b) ASSERT_INT_OP(a, <, b)
#define ASSERT_LE(a, b) ASSERT_INT_OP(a, <=, b)
#define ASSERT_GT(a, b) ASSERT_INT_OP(a, >, b)
#define ASSERT_GE(a, b) ASSERT_INT_OP(a, >=, b)

#define ASSERT_DBL_NEAR(a, b, eps)                                                \
    do {                                                                          \
        double a_ = (a), b_ = (b);                                                \
        if (!(a_ - b_ <= (eps) && b_ - a_ <= (eps)))                              \
            FAIL("assertion failed: %s ~= %s (%g vs %g)", #a, #b, a_, b_);        \
    } while (0)

#define ASSERT_STR_EQ(a, b)                                                       \
    do {                                                                          \
        const char *a_ = (a), *b_ = (b);                                          \
        if (a_ == NULL || b_ == NULL || strcmp(a_, b_) != 0)                      \
            FAIL("assertion failed: %s == %s (\"%s\" vs \"%s\")", #a, #b,         \
                 a_ ? a_ : "(null)", b_ ? b_ : "(null)");                         \
    } while (0)

/* Asserts that `hay` contains `needle`. */
#define ASSERT_CONTAINS(hay, needle)                                              \
    do {                                                                          \
        const char *h_ = (hay), *n_ = (needle);                                   \
        if (h_ == NULL || strstr(h_, n_) == NULL)                                 \
            FAIL("assertion failed: %s contains \"%s\"\n--- %s was:\n%s\n---",    \
                 #hay, n_, #hay, h_ ? h_ : "(null)");                             \
    } while (0)

#define ASSERT_NOT_CONTAINS(hay, needle)                                          \
    do {                                                                          \
        const char *h_ = (hay), *n_ = (needle);                                   \
        if (h_ != NULL && strstr(h_, n_) != NULL)                                 \
            FAIL("assertion failed: %s does not contain \"%s\"\n--- %s was:\n%s\n---", \
                 #hay, n_, #hay, h_);                                             \
    } while (0)

/* Asserts a weft_err is WEFT_OK, printing weft_strerror and the error buffer. */
#define ASSERT_OK(expr, errbuf)                                                   \
    do {                                                                          \
        int e_ = (int)(expr);                                                     \
        if (e_ != 0)                                                              \
            FAIL("%s failed: error %d (%s): %s", #expr, e_,                       \
                 weft_strerror((weft_err)e_), test_str_or_empty(errbuf));              \
    } while (0)

#endif
