/* SPDX-License-Identifier: MIT */
/*
 * test_status.c - the job status model: names and parsing, final statuses,
 * every (from, to) pair against the transition rules of weft.h, and how a
 * submission's status follows from its jobs' statuses.
 */
#include "test.h"

#include "core/orchestrator_internal.h"
#include "weft.h"

#define S WEFT_JOB_SUBMITTED
#define B WEFT_JOB_BLOCKED
#define P WEFT_JOB_PENDING
#define R WEFT_JOB_RUNNING
#define C WEFT_JOB_CANCELED
#define F WEFT_JOB_FAILED
#define D WEFT_JOB_COMPLETED
#define K WEFT_JOB_SKIPPED
#define A WEFT_JOB_ABANDONED

TEST(names_round_trip)
{
    static const char *const names[] = {"SUBMITTED", "BLOCKED", "PENDING", "RUNNING", "CANCELED",
                                        "FAILED", "COMPLETED", "SKIPPED", "ABANDONED"};
    for (int i = 0; i < WEFT_JOB_NSTATUS; i++) {
        ASSERT_STR_EQ(weft_job_status_name((weft_job_status)i), names[i]);
        ASSERT_EQ(weft_job_status_parse(names[i]), i);
    }
    ASSERT_EQ(weft_job_status_parse("completed"), WEFT_JOB_COMPLETED);
    ASSERT_EQ(weft_job_status_parse("Running"), WEFT_JOB_RUNNING);
    ASSERT_EQ(weft_job_status_parse("DONE"), -1);
    ASSERT_EQ(weft_job_status_parse(""), -1);
    ASSERT_EQ(weft_job_status_parse(NULL), -1);
    ASSERT(weft_job_status_name((weft_job_status)9) == NULL);
    ASSERT(weft_job_status_name((weft_job_status)-1) == NULL);
    ASSERT_STR_EQ(weft_submission_status_name(WEFT_SUBMISSION_RUNNING), "RUNNING");
    ASSERT_STR_EQ(weft_submission_status_name(WEFT_SUBMISSION_COMPLETED), "COMPLETED");
    ASSERT(weft_submission_status_name((weft_submission_status)7) == NULL);
}

TEST(final_statuses)
{
    int finals = 0;
    for (int i = 0; i < WEFT_JOB_NSTATUS; i++) finals += weft_job_status_is_final((weft_job_status)i);
    ASSERT_EQ(finals, 5);
    ASSERT(weft_job_status_is_final(WEFT_JOB_CANCELED));
    ASSERT(weft_job_status_is_final(WEFT_JOB_FAILED));
    ASSERT(weft_job_status_is_final(WEFT_JOB_COMPLETED));
    ASSERT(weft_job_status_is_final(WEFT_JOB_SKIPPED));
    ASSERT(weft_job_status_is_final(WEFT_JOB_ABANDONED));
    ASSERT(!weft_job_status_is_final(WEFT_JOB_RUNNING));
}

TEST(every_transition_pair)
{
    /* The rules of weft.h, written out independently of status.c. */
    static const bool ok[WEFT_JOB_NSTATUS][WEFT_JOB_NSTATUS] = {
        /*           S  B  P  R  C  F  D  K  A */
        [S] = {[B] = 1, [P] = 1, [K] = 1, [C] = 1, [A] = 1},
        [B] = {[P] = 1, [C] = 1, [A] = 1},
        [P] = {[R] = 1, [K] = 1, [C] = 1, [A] = 1},
        [R] = {[D] = 1, [F] = 1, [C] = 1, [P] = 1},
    };
    int allowed = 0;
    for (int f = 0; f < WEFT_JOB_NSTATUS; f++)
        for (int t = 0; t < WEFT_JOB_NSTATUS; t++) {
            bool got = weft_job_transition_ok((weft_job_status)f, (weft_job_status)t);
            if (got != ok[f][t])
                FAIL("%s -> %s: got %d, want %d", weft_job_status_name((weft_job_status)f),
                     weft_job_status_name((weft_job_status)t), got, ok[f][t]);
            allowed += got;
        }
    ASSERT_EQ(allowed, 16);
    /* Final statuses never change, not even to themselves. */
    ASSERT(!weft_job_transition_ok(WEFT_JOB_COMPLETED, WEFT_JOB_RUNNING));
    ASSERT(!weft_job_transition_ok(WEFT_JOB_COMPLETED, WEFT_JOB_COMPLETED));
    ASSERT(!weft_job_transition_ok(WEFT_JOB_RUNNING, WEFT_JOB_RUNNING));
    ASSERT(!weft_job_transition_ok((weft_job_status)-1, WEFT_JOB_PENDING));
    ASSERT(!weft_job_transition_ok(WEFT_JOB_SUBMITTED, (weft_job_status)9));
}

static weft_submission_status of(const weft_job_status *v, size_t n)
{
    return weft_submission_status_of(v, n);
}

TEST(submission_status_rules)
{
    weft_job_status v[4];
#define CASE(want, ...)                                                                    \
    do {                                                                                   \
        weft_job_status in_[] = {__VA_ARGS__};                                             \
        size_t n_ = sizeof in_ / sizeof in_[0];                                            \
        memcpy(v, in_, sizeof in_);                                                        \
        ASSERT_EQ(of(v, n_), want);                                                        \
    } while (0)
    CASE(WEFT_SUBMISSION_FAILED, D, F, R, C);
    CASE(WEFT_SUBMISSION_FAILED, F, A);
    CASE(WEFT_SUBMISSION_CANCELED, D, C, R);
    CASE(WEFT_SUBMISSION_CANCELED, D, A);
    CASE(WEFT_SUBMISSION_RUNNING, R, P, B);
    CASE(WEFT_SUBMISSION_RUNNING, D, R);
    CASE(WEFT_SUBMISSION_PENDING, P, B, S);
    CASE(WEFT_SUBMISSION_PENDING, D, P);
    CASE(WEFT_SUBMISSION_BLOCKED, B, S, D);
    CASE(WEFT_SUBMISSION_COMPLETED, D, K, D);
    CASE(WEFT_SUBMISSION_COMPLETED, K);
    CASE(WEFT_SUBMISSION_SUBMITTED, S, S);
    CASE(WEFT_SUBMISSION_SUBMITTED, S, D);
#undef CASE
    ASSERT_EQ(weft_submission_status_of(NULL, 0), WEFT_SUBMISSION_COMPLETED);
    /* The O(1) form used by the orchestrator agrees with the public one. */
    size_t count[WEFT_JOB_NSTATUS] = {0};
    count[D] = 3;
    count[R] = 1;
    ASSERT_EQ(weft__submission_status_of_counts(count), WEFT_SUBMISSION_RUNNING);
}

TEST(free_functions_accept_null)
{
    weft_job_info_free(NULL);
    weft_job_list_free(NULL, 0);
    weft_submission_info_free(NULL);
    weft_submission_list_free(NULL, 0);
    weft_strv_free(NULL, 0);
}

TEST_MAIN(TEST_ENTRY(names_round_trip), TEST_ENTRY(final_statuses),
          TEST_ENTRY(every_transition_pair), TEST_ENTRY(submission_status_rules),
          TEST_ENTRY(free_functions_accept_null))
