/* SPDX-License-Identifier: MIT */
/*
 * log.c - the command's log handler: what the library logs (reconnects,
 * dropped messages, a stopped dispatcher) goes to stderr as one line
 * "weft: HH:MM:SS.mmm LEVEL component: message".  Installed by main()
 * before any command runs; --quiet and --verbose (opts.c) move its level,
 * which the commands also read to decide whether to print what is only
 * informative.
 */
#include "cli/cli.h"

#include <pthread.h>
#include <stdio.h>
#include <sys/time.h>
#include <time.h>

static void stderr_log(weft_log_level level, const char *component, const char *message,
                       void *userdata)
{
    (void)userdata;
    struct timeval tv;
    struct tm tm;
    gettimeofday(&tv, NULL);
    localtime_r(&tv.tv_sec, &tm);
    /* One fprintf per line: stdio locks the stream, so lines of
     * concurrent threads do not interleave. */
    fprintf(stderr, "weft: %02d:%02d:%02d.%03d %s %s: %s\n", tm.tm_hour, tm.tm_min, tm.tm_sec,
            (int)(tv.tv_usec / 1000), weft_log_level_name(level), component, message);
}

/* Written by the main thread only, while parsing options, before any
 * thread of ours or of the library exists. */
static weft_log_level current = WEFT_LOG_INFO;

void cli_log_init(weft_log_level level)
{
    current = level;
    weft_log_set_handler(stderr_log, NULL, level);
}

weft_log_level cli_log_level(void) { return current; }
