/* SPDX-License-Identifier: MIT */
/* test_error.c - every weft_err has its own message, and the error buffer helpers behave. */
#include "test.h"
#include "util/util.h"
#include "weft.h"

TEST(every_error_has_a_distinct_message)
{
    const char *seen[64] = {0};
    int n = 0;
    for (int e = WEFT_OK; e <= WEFT_ELOCKED; e++) {
        const char *m = weft_strerror((weft_err)e);
        printf("    %2d %s\n", e, m);
        ASSERT(m != NULL);
        ASSERT(strcmp(m, "unknown error") != 0);
        for (int i = 0; i < n; i++) ASSERT(strcmp(seen[i], m) != 0);
        seen[n++] = m;
    }
    ASSERT_STR_EQ(weft_strerror((weft_err)9999), "unknown error");
}

TEST(error_buffer_untouched_on_success_and_null_allowed)
{
    char err[WEFT_ERRBUF_SIZE] = "previous";
    ASSERT_EQ(weft__err(NULL, WEFT_EIO, "x %d", 1), WEFT_EIO);
    ASSERT_EQ(weft__err(err, WEFT_EINVAL, "bad %s", "thing"), WEFT_EINVAL);
    ASSERT_STR_EQ(err, "bad thing");
}

TEST(buffer_respects_its_maximum)
{
    weft__buf b = WEFT_BUF_INIT;
    b.max = 8;
    ASSERT_EQ(weft__buf_adds(&b, "12345678"), WEFT_OK);
    ASSERT_EQ(weft__buf_addc(&b, '9'), WEFT_ELIMIT);
    ASSERT_STR_EQ(b.data, "12345678");
    weft__buf_release(&b);
    weft__buf_release(&b);
    ASSERT(b.data == NULL);
    ASSERT_EQ(weft__buf_addf(&b, "%d-%s", 7, "x"), WEFT_OK);
    size_t len;
    char *s = weft__buf_detach(&b, &len);
    ASSERT_STR_EQ(s, "7-x");
    ASSERT_EQ(len, 3);
    free(s);
}

TEST_MAIN(TEST_ENTRY(every_error_has_a_distinct_message),
          TEST_ENTRY(error_buffer_untouched_on_success_and_null_allowed),
          TEST_ENTRY(buffer_respects_its_maximum))
