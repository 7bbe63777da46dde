/* SPDX-License-Identifier: MIT */
/*
 * error.c - the library's error messages and version.
 *
 * weft_strerror() is a switch without a default case: adding a weft_err
 * value without a message here breaks the -Werror build (-Wswitch).
 */
#include "weft.h"

const char *weft_version(void) { return WEFT_VERSION_STRING; }

const char *weft_strerror(weft_err e)
{
    switch (e) {
    case WEFT_OK: return "success";
    case WEFT_ENOMEM: return "out of memory";
    case WEFT_EINVAL: return "invalid argument";
    case WEFT_EIO: return "input/output error";
    case WEFT_ESYNTAX: return "TOML syntax error";
    case WEFT_ELIMIT: return "size or nesting limit exceeded";
    case WEFT_ECONFIG: return "invalid configuration";
    case WEFT_ENOTFOUND: return "not found";
    case WEFT_EEXIST: return "already exists";
    case WEFT_ESTORE: return "store error";
    case WEFT_ESTATE: return "illegal state transition";
    case WEFT_ETIMEDOUT: return "timed out";
    case WEFT_ECANCELED: return "canceled";
    case WEFT_EMODE: return "not available in this execution mode";
    case WEFT_ESPAWN: return "could not start a process";
    case WEFT_EBROKER: return "message broker error";
    case WEFT_ETASK: return "task failed";
    case WEFT_EDATA: return "data node not ready or malformed";
    case WEFT_ELOCKED: return "data node locked by a running job";
    }
    return "unknown error";
}
