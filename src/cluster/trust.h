/* SPDX-License-Identifier: MIT */
/*
 * trust.h - cluster mode's trust boundary (trust.c): what lets a worker
 * act only on what its own application declares, and both sides know that
 * a message comes from a holder of the shared secret.
 *
 *  - Message authentication: an HMAC-SHA256 of the message, keyed with the
 *    shared secret ([JOB] broker_secret, run-worker --secret-file), appended
 *    as the last member of the JSON object: `...,"mac":"<64 hex>"}`.  The
 *    MAC covers the message as it was before the member was appended, so
 *    the receiver strips the member, checks the MAC in constant time and
 *    decodes exactly the bytes that were authenticated.  Messages stay JSON
 *    (readable in Q.dead, and by decoders that ignore the field).
 *  - Task digests: a SHA-256 of a task's effective definition (what it
 *    runs, its inputs and outputs with their storage types and configured
 *    paths and properties, its timeout), computed by each side from its own
 *    config, so that a worker whose application defines a task differently
 *    from the orchestrator's fails the job instead of running its version.
 *  - Ids: the strict pattern every id of a job message must match.
 *  - Resolution: the worker derives a job's storage types, paths and
 *    timeout from its own config and storage folder (the derivation the
 *    orchestrator uses), never from the message, and checks that every path
 *    stays where its application puts such files.
 */
#ifndef WEFT_CLUSTER_TRUST_H
#define WEFT_CLUSTER_TRUST_H

#include "job/app.h"
#include "job/runner.h"
#include "util/defaults.h"
#include "util/util.h"
#include "weft.h"

#include <stdbool.h>
#include <stddef.h>

#define WEFT__DIGEST_HEX 64   /* hex digits of a SHA-256 */
#define WEFT__ID_MAX 255      /* longest id a message may carry (an AMQP short string) */

/* ---- authentication ---- */

/*
 * Appends the MAC member to `*msg` (a JSON object of at least one member,
 * `*len` bytes, allocated with malloc; reallocated here).  A NULL or empty
 * `secret` leaves the message unsigned.  WEFT_ENOMEM, WEFT_EINVAL when the
 * text is not an object.  On error *msg is untouched.
 */
weft_err weft__msg_seal(const char *secret, char **msg, size_t *len, char *err);

/*
 * Checks a received message and gives the authenticated JSON in *body
 * (caller frees; *blen may be NULL).  With a secret: WEFT_EDATA with the
 * reason ("not signed", "bad signature") unless the MAC member is there
 * and right.  Without one: any message is taken, a MAC member stripped
 * unchecked (the sender has a secret this side lacks: its own checks
 * refuse what this side sends).
 */
weft_err weft__msg_open(const char *secret, const char *text, size_t len, char **body,
                        size_t *blen, char *err);

/* Reads a secret from a file: its content up to the first line break;
 * WEFT_EIO / WEFT_EINVAL (empty, too long) with the reason, never the
 * content.  Caller frees *out. */
weft_err weft__secret_read(const char *path, char **out, char *err);

/* ---- task digests ---- */

/*
 * The digest of TASK.<task_config_id> as `cfg` defines it, in hex (65
 * bytes with the NUL).  WEFT_ENOTFOUND when the task is not declared.
 */
weft_err weft__task_digest(const weft_config *cfg, const char *task_config_id,
                           char out[WEFT__DIGEST_HEX + 1], char *err);

/* The digests of a config's tasks, each computed once: a config does not
 * change while an orchestrator or a worker service uses it, and a job then
 * costs a lookup, not a walk over its task's definition.  Not thread-safe:
 * one owner, or a lock around every call. */
typedef struct weft__digests {
    weft__strmap map; /* task config id -> its entry (trust.c) */
} weft__digests;
#define WEFT__DIGESTS_INIT {WEFT__STRMAP_INIT}

/* weft__task_digest() of `task`, from the cache when there. */
weft_err weft__digests_get(weft__digests *d, const weft_config *cfg, const char *task,
                           char out[WEFT__DIGEST_HEX + 1], char *err);
/* Frees the entries; back to INIT; safe to call twice. */
void weft__digests_release(weft__digests *d);

/* ---- ids ---- */

/* A config id: 1 to WEFT__ID_MAX bytes of [A-Za-z0-9_-]. */
bool weft__config_id_ok(const char *id);

/* An entity id "<prefix>_<config_id>_<rest>", 1 to WEFT__ID_MAX bytes of
 * [A-Za-z0-9_.-] with no "..": what weft__make_id() builds.  NULL
 * config_id: any config id. */
bool weft__entity_id_ok(const char *id, const char *prefix, const char *config_id);

/* ---- resolution (worker side) ---- */

/*
 * Completes a job spec decoded from a message (ids only) from the app's
 * own config: the config ids of its inputs and outputs must be, in order,
 * those TASK.<id> declares; storage types, paths (weft__dn_instance_path()
 * with the config's storage folder) and the timeout are filled in, and
 * every path is checked to stay in the storage folder's data/ (or be the
 * node's configured path).  WEFT_EDATA with the reason otherwise.
 */
weft_err weft__trust_resolve(weft__app *app, weft__job_spec *spec, char *err);

#endif
