/* SPDX-License-Identifier: MIT */
/*
 * trust.c - cluster mode's trust boundary: message MACs (HMAC-SHA256 with
 * the shared secret, checked in constant time), task digests (SHA-256 of a
 * task's effective definition), the id pattern of job messages, and the
 * worker's resolution of a job from its own application (types, paths and
 * timeout derived from its config, never taken from a message).  Why each
 * exists is in trust.h; what it protects against is docs/CLUSTER.md,
 * "Threat model".  Crypto is OpenSSL's libcrypto.
 */
#define _GNU_SOURCE /* asprintf */
#include "cluster/trust.h"

#include "util/util.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* `,"mac":"` + 64 hex + `"}` */
#define MAC_HEAD ",\"mac\":\""
#define MAC_HEAD_LEN 8
#define MAC_SUFFIX_LEN (MAC_HEAD_LEN + WEFT__DIGEST_HEX + 2)

static void to_hex(const unsigned char *b, size_t n, char *out)
{
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hex[b[i] >> 4];
        out[2 * i + 1] = hex[b[i] & 15];
    }
    out[2 * n] = '\0';
}

/* HMAC-SHA256 of `n` bytes of `text`, in hex. */
static bool mac_hex(const char *secret, const char *text, size_t n,
                    char out[WEFT__DIGEST_HEX + 1])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    bool ok = HMAC(EVP_sha256(), secret, (int)strlen(secret), (const unsigned char *)text, n, md,
                   &mdlen) != NULL &&
              mdlen * 2 == WEFT__DIGEST_HEX;
    if (ok) to_hex(md, mdlen, out);
    OPENSSL_cleanse(md, sizeof md);
    return ok;
}

weft_err weft__msg_seal(const char *secret, char **msg, size_t *len, char *err)
{
    if (!secret || !*secret) return WEFT_OK;
    size_t n = *len;
    if (n < 3 || (*msg)[0] != '{' || (*msg)[n - 1] != '}' || (*msg)[n - 2] == '{')
        return weft__err(err, WEFT_EINVAL, "only a JSON object with members can be signed");
    char mac[WEFT__DIGEST_HEX + 1];
    if (!mac_hex(secret, *msg, n, mac))
        return weft__err(err, WEFT_ENOMEM, "cannot compute a message's MAC");
    char *s = realloc(*msg, n - 1 + MAC_SUFFIX_LEN + 1);
    if (!s) return weft__err(err, WEFT_ENOMEM, "out of memory");
    snprintf(s + n - 1, MAC_SUFFIX_LEN + 1, MAC_HEAD "%s\"}", mac);
    *msg = s;
    *len = n - 1 + MAC_SUFFIX_LEN;
    return WEFT_OK;
}

/* Where the MAC member starts in `text`, or 0 when it has none. */
static size_t mac_at(const char *text, size_t len)
{
    if (len < MAC_SUFFIX_LEN + 2) return 0;
    size_t at = len - MAC_SUFFIX_LEN;
    if (memcmp(text + at, MAC_HEAD, MAC_HEAD_LEN) != 0 || text[len - 2] != '"' ||
        text[len - 1] != '}')
        return 0;
    for (size_t i = at + MAC_HEAD_LEN; i < len - 2; i++)
        if (!strchr("0123456789abcdef", text[i]) || !text[i]) return 0;
    return at;
}

weft_err weft__msg_open(const char *secret, const char *text, size_t len, char **body,
                        size_t *blen, char *err)
{
    *body = NULL;
    size_t at = mac_at(text, len);
    if (secret && *secret && !at)
        return weft__err(err, WEFT_EDATA, "not signed (this side has a shared secret)");
    /* The message as it was signed: the MAC member cut, the brace back. */
    size_t n = at ? at + 1 : len;
    char *b = malloc(n + 1);
    if (!b) return weft__err(err, WEFT_ENOMEM, "out of memory");
    memcpy(b, text, n);
    if (at) b[at] = '}';
    b[n] = '\0';
    if (secret && *secret) {
        char want[WEFT__DIGEST_HEX + 1];
        weft_err e = WEFT_OK;
        if (!mac_hex(secret, b, n, want))
            e = weft__err(err, WEFT_ENOMEM, "cannot compute a message's MAC");
        else if (CRYPTO_memcmp(want, text + at + MAC_HEAD_LEN, WEFT__DIGEST_HEX) != 0)
            e = weft__err(err, WEFT_EDATA, "bad signature (another secret, or altered)");
        if (e) {
            free(b);
            return e;
        }
    }
    *body = b;
    if (blen) *blen = n;
    return WEFT_OK;
}

weft_err weft__secret_read(const char *path, char **out, char *err)
{
    *out = NULL;
    char *text = NULL;
    size_t len = 0;
    char why[WEFT_ERRBUF_SIZE];
    if (weft__read_file(path, &text, &len, why) != WEFT_OK)
        return weft__err(err, WEFT_EIO, "secret file: %s", why);
    size_t n = strcspn(text, "\r\n");
    weft_err e = WEFT_OK;
    if (n == 0)
        e = weft__err(err, WEFT_EINVAL, "secret file %s is empty", path);
    else if (n > WEFT__SECRET_MAX)
        e = weft__err(err, WEFT_EINVAL, "secret file %s: longer than %d bytes", path,
                      WEFT__SECRET_MAX);
    else if (!(*out = weft__strndup(text, n)))
        e = weft__err(err, WEFT_ENOMEM, "out of memory");
    OPENSSL_cleanse(text, len);
    free(text);
    return e;
}

/* ---- task digests ---- */

/* A task's inputs or outputs: a list, or one name (as submit.c reads them). */
static size_t list_n(const weft_value *v)
{
    if (!v) return 0;
    if (weft_value_type_of(v) == WEFT_VALUE_LIST) return weft_value_len(v);
    const char *t = weft_value_text(v);
    return t && *t ? 1 : 0;
}

static const char *list_at(const weft_value *v, size_t i)
{
    if (weft_value_type_of(v) == WEFT_VALUE_LIST) return weft_value_text(weft_value_at(v, i));
    return weft_value_text(v);
}

/* A value in an unambiguous form: type, then length-prefixed text (lists
 * element by element), so that no two definitions print the same. */
static void add_value(weft__buf *b, const weft_value *v)
{
    weft_value_type t = weft_value_type_of(v);
    if (t == WEFT_VALUE_LIST) {
        weft__buf_addf(b, "L%zu[", weft_value_len(v));
        for (size_t i = 0; i < weft_value_len(v); i++) add_value(b, weft_value_at(v, i));
        weft__buf_addc(b, ']');
        return;
    }
    const char *s = weft_value_text(v);
    if (t == WEFT_VALUE_TIMEDELTA)
        weft__buf_addf(b, "T%lld;", (long long)weft_value_timedelta_ms(v));
    else
        weft__buf_addf(b, "%d:%zu:%s;", (int)t, s ? strlen(s) : 0, s ? s : "");
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The keys of `section` but `skip` (NULL-terminated), sorted, with their
 * effective values. */
static weft_err add_section(weft__buf *b, const weft_config *cfg, const char *section,
                            const char *const *skip)
{
    size_t n = weft_config_nkeys(cfg, section), k = 0;
    const char **keys = n ? malloc(n * sizeof *keys) : NULL;
    if (n && !keys) return WEFT_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        const char *key = weft_config_key_at(cfg, section, i);
        bool skipped = false;
        for (const char *const *s = skip; *s; s++) skipped |= strcmp(*s, key) == 0;
        if (!skipped) keys[k++] = key;
    }
    qsort(keys, k, sizeof *keys, cmp_str);
    weft__buf_addf(b, "[%s]%zu\n", section, k);
    for (size_t i = 0; i < k; i++) {
        weft__buf_addf(b, "%zu:%s=", strlen(keys[i]), keys[i]);
        add_value(b, weft_config_lookup(cfg, section, keys[i]));
        weft__buf_addc(b, '\n');
    }
    free(keys);
    return WEFT_OK;
}

/* What TASK.<id> runs and touches, as text.  Left out: what only the
 * orchestrator acts on (skippable; a node's scope and validity period),
 * and a node's db_password: the digest travels in every job message, and
 * a hash of a short password can be reversed by trying them all. */
static weft_err definition(const weft_config *cfg, const char *task, weft__buf *b)
{
    static const char *const task_skip[] = {"skippable", NULL};
    static const char *const dn_skip[] = {"scope", "validity_period", "db_password", NULL};
    char name[WEFT__ID_MAX + 16];
    snprintf(name, sizeof name, "TASK.%s", task);
    if (add_section(b, cfg, name, task_skip)) return WEFT_ENOMEM;
    static const char *const roles[] = {"inputs", "outputs"};
    for (int r = 0; r < 2; r++) {
        const weft_value *list = weft_config_lookup(cfg, name, roles[r]);
        size_t n = list_n(list);
        for (size_t i = 0; i < n; i++) {
            const char *dn = list_at(list, i);
            char dname[WEFT__ID_MAX + 16];
            snprintf(dname, sizeof dname, "DATA_NODE.%s", dn ? dn : "");
            if (add_section(b, cfg, dname, dn_skip)) return WEFT_ENOMEM;
        }
    }
    return WEFT_OK;
}

/* Whether every id a job message of the task would carry fits the
 * pattern a worker checks; the reason when one does not. */
static bool ids_fit(const weft_config *cfg, const char *task, const char *section, char *err)
{
    static const char *const roles[] = {"inputs", "outputs"};
    for (int r = 0; r < 2; r++) {
        const weft_value *list = weft_config_lookup(cfg, section, roles[r]);
        for (size_t i = 0; i < list_n(list); i++)
            if (!weft__config_id_ok(list_at(list, i))) {
                weft__err(err, WEFT_EINVAL,
                          "task '%s': data node id '%s' cannot cross to a cluster worker (ids "
                          "are letters, digits, '_' and '-')",
                          task, list_at(list, i) ? list_at(list, i) : "");
                return false;
            }
    }
    return true;
}

weft_err weft__task_digest(const weft_config *cfg, const char *task_config_id,
                           char out[WEFT__DIGEST_HEX + 1], char *err)
{
    char name[WEFT__ID_MAX + 16];
    if (!task_config_id || strlen(task_config_id) > WEFT__ID_MAX ||
        (snprintf(name, sizeof name, "TASK.%s", task_config_id),
         !weft_config_has_section(cfg, name)))
        return weft__err(err, WEFT_ENOTFOUND, "task '%s' is not defined",
                         task_config_id ? task_config_id : "");
    if (!weft__config_id_ok(task_config_id))
        return weft__err(err, WEFT_EINVAL,
                         "task id '%s' cannot cross to a cluster worker (ids are letters, "
                         "digits, '_' and '-')", task_config_id);
    if (!ids_fit(cfg, task_config_id, name, err)) return WEFT_EINVAL;
    weft__buf b = WEFT_BUF_INIT;
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    bool ok = definition(cfg, task_config_id, &b) == WEFT_OK && b.data &&
              EVP_Digest(b.data, b.len, md, &mdlen, EVP_sha256(), NULL) == 1 &&
              mdlen * 2 == WEFT__DIGEST_HEX;
    weft__buf_release(&b);
    if (!ok) return weft__err(err, WEFT_ENOMEM, "out of memory computing task %s's digest",
                              task_config_id);
    to_hex(md, mdlen, out);
    return WEFT_OK;
}

typedef struct digest_entry {
    char hex[WEFT__DIGEST_HEX + 1];
    char task[]; /* the map's key */
} digest_entry;

weft_err weft__digests_get(weft__digests *d, const weft_config *cfg, const char *task,
                           char out[WEFT__DIGEST_HEX + 1], char *err)
{
    const digest_entry *hit = task ? weft__strmap_get(&d->map, task) : NULL;
    if (hit) {
        memcpy(out, hit->hex, WEFT__DIGEST_HEX + 1);
        return WEFT_OK;
    }
    weft_err e = weft__task_digest(cfg, task, out, err);
    if (e) return e;
    size_t n = strlen(task) + 1;
    digest_entry *ent = malloc(sizeof *ent + n);
    if (!ent) return WEFT_OK; /* a cache: computed again next time */
    memcpy(ent->hex, out, WEFT__DIGEST_HEX + 1);
    memcpy(ent->task, task, n);
    if (weft__strmap_put(&d->map, ent->task, ent) != WEFT_OK) free(ent);
    return WEFT_OK;
}

static void free_value(void *value, void *ud)
{
    (void)ud;
    free(value);
}

void weft__digests_release(weft__digests *d)
{
    weft__strmap_each(&d->map, free_value, NULL);
    weft__strmap_release(&d->map);
}

/* ---- ids ---- */

static bool id_chars_ok(const char *s, const char *extra)
{
    size_t n = 0;
    for (const char *p = s; *p; p++, n++) {
        char c = *p;
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '_' || c == '-' || (c && strchr(extra, c));
        if (!ok) return false;
    }
    return n >= 1 && n <= WEFT__ID_MAX;
}

bool weft__config_id_ok(const char *id) { return id && id_chars_ok(id, ""); }

bool weft__entity_id_ok(const char *id, const char *prefix, const char *config_id)
{
    if (!id || !id_chars_ok(id, ".") || strstr(id, "..")) return false;
    size_t pl = strlen(prefix);
    if (strncmp(id, prefix, pl) != 0 || id[pl] != '_') return false;
    const char *rest = id + pl + 1;
    if (config_id) {
        size_t cl = strlen(config_id);
        return strncmp(rest, config_id, cl) == 0 && rest[cl] == '_' && rest[cl + 1];
    }
    const char *us = strchr(rest, '_');
    return us && us > rest && us[1];
}

/* ---- resolution ---- */

/* Whether `path` is the node's configured path, or a file right in
 * <storage folder>/data/ named after the instance. */
static bool path_in_place(weft__app *app, const weft__dn_ref *r)
{
    const weft_config *cfg = weft__app_config(app);
    char sec[WEFT__ID_MAX + 16];
    snprintf(sec, sizeof sec, "DATA_NODE.%s", r->config_id);
    const char *p = weft_value_text(weft_config_lookup(cfg, sec, "path"));
    if (!p || !*p) p = weft_value_text(weft_config_lookup(cfg, sec, "default_path"));
    if (p && *p) return true; /* derived from the config alone: the app's own choice */
    char *folder = NULL;
    const char *sf = weft_config_storage_folder(cfg);
    if (sf[0] == '/' ? asprintf(&folder, "%s", sf) < 0
                     : asprintf(&folder, "%s/%s", weft__app_path(app),
                                strncmp(sf, "./", 2) == 0 ? sf + 2 : sf) < 0)
        return false;
    size_t fl = strlen(folder);
    while (fl > 1 && folder[fl - 1] == '/') folder[--fl] = '\0';
    size_t il = strlen(r->id);
    const char *name = strncmp(r->path, folder, fl) == 0 && strncmp(r->path + fl, "/data/", 6) == 0
                           ? r->path + fl + 6 : NULL;
    free(folder);
    return name && !strchr(name, '/') && strncmp(name, r->id, il) == 0 && name[il] == '.' &&
           !strchr(name + il + 1, '.');
}

/* Fills one role's refs; `list` is what the task declares for it. */
static weft_err resolve_refs(weft__app *app, const char *role, const weft_value *list,
                             weft__dn_ref *refs, size_t n, char *err)
{
    const weft_config *cfg = weft__app_config(app);
    size_t want = list_n(list);
    if (n != want)
        return weft__err(err, WEFT_EDATA, "%zu %s where the task declares %zu", n, role, want);
    for (size_t i = 0; i < n; i++) {
        weft__dn_ref *r = &refs[i];
        const char *cid = list_at(list, i);
        if (!cid || strcmp(cid, r->config_id) != 0)
            return weft__err(err, WEFT_EDATA, "%s %zu is '%s' where the task declares '%s'",
                             role, i + 1, r->config_id, cid ? cid : "");
        char sec[WEFT__ID_MAX + 16];
        snprintf(sec, sizeof sec, "DATA_NODE.%s", cid);
        const char *type = weft_value_text(weft_config_lookup(cfg, sec, "storage_type"));
        free(r->storage_type);
        free(r->path);
        r->path = NULL;
        if (!(r->storage_type = weft__strdup(type && *type ? type : "pickle")))
            return weft__err(err, WEFT_ENOMEM, "out of memory");
        char why[WEFT_ERRBUF_SIZE];
        if (weft__dn_instance_path(app, cid, r->id, NULL, &r->path, why) != WEFT_OK)
            return weft__err(err, WEFT_EDATA, "%s", why);
        if (r->path && !path_in_place(app, r))
            return weft__err(err, WEFT_EDATA, "data node %s: its path leaves the storage folder",
                             r->id);
    }
    return WEFT_OK;
}

weft_err weft__trust_resolve(weft__app *app, weft__job_spec *spec, char *err)
{
    const weft_config *cfg = weft__app_config(app);
    char sec[WEFT__ID_MAX + 16];
    snprintf(sec, sizeof sec, "TASK.%s", spec->task_config_id);
    if (!weft_config_has_section(cfg, sec))
        return weft__err(err, WEFT_EDATA, "task '%s' is not defined", spec->task_config_id);
    weft_err e = resolve_refs(app, "inputs", weft_config_lookup(cfg, sec, "inputs"), spec->inputs,
                              spec->ninputs, err);
    if (!e)
        e = resolve_refs(app, "outputs", weft_config_lookup(cfg, sec, "outputs"), spec->outputs,
                         spec->noutputs, err);
    const weft_value *to = weft_config_lookup(cfg, sec, "timeout");
    spec->timeout_ms = to ? weft_value_timedelta_ms(to) : 0;
    return e;
}
