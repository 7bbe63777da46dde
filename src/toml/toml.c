/* SPDX-License-Identifier: MIT */
/*
 * toml.c - the TOML 1.0.0 parser: text in, a tree of weft_toml_value out
 * (the tree itself lives in toml_value.c).
 *
 * A hand-written recursive-descent parser over bytes.  The whole input is
 * checked to be UTF-8 first, so the rest only looks at ASCII and copies
 * other bytes through.  Recursion only happens for nested arrays and inline
 * tables, and every container is refused past WEFT_TOML_MAX_DEPTH levels
 * before recursing, so a hostile file cannot exhaust the stack.  The
 * redefinition rules of TOML (a table defined twice, dotted keys reaching
 * into a [header] table or an inline table, [[a]] on a static array, ...)
 * are enforced with a few flags on each table, see toml_internal.h.
 *
 * Errors stop at the first problem and read "name:line:col: message"; the
 * column counts characters, so the parser tracks it as it advances.
 */
#include "toml/toml_internal.h"
#include "util/util.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct key_part {
    const char *s; /* in the document's arena */
    size_t len;
    int line, col;
} key_part;

typedef struct parser {
    const unsigned char *s;
    size_t n, i;
    int line, col;
    const char *name;
    char *err;
    weft_toml *doc;
    weft__buf sb; /* scratch for the string being decoded */
    key_part *parts; /* a stack: nested inline tables push their keys above ours */
    size_t nparts, capparts;
} parser;

/* ---- errors ---- */

static weft_err fail_at(parser *p, int line, int col, weft_err code, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static weft_err fail_at(parser *p, int line, int col, weft_err code, const char *fmt, ...)
{
    char msg[WEFT_ERRBUF_SIZE];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return weft__err(p->err, code, "%s:%d:%d: %s", p->name, line, col, msg);
}

#define FAIL(p, ...) fail_at((p), (p)->line, (p)->col, WEFT_ESYNTAX, __VA_ARGS__)
#define NOMEM(p) fail_at((p), (p)->line, (p)->col, WEFT_ENOMEM, "out of memory")

/* Decodes the (valid) UTF-8 sequence at s[i]. */
static uint32_t code_point_at(const unsigned char *s, size_t n, size_t i)
{
    unsigned c = s[i];
    int extra = c >= 0xF0 ? 3 : c >= 0xE0 ? 2 : c >= 0xC0 ? 1 : 0;
    uint32_t cp = extra ? c & (0x3F >> extra) : c;
    for (int k = 1; k <= extra && i + (size_t)k < n; k++) cp = (cp << 6) | (s[i + k] & 0x3F);
    return cp;
}

/* What the parser sees at the current position, for messages: 'x', end of
 * line, U+0007. */
static const char *seen(parser *p, char buf[32])
{
    if (p->i >= p->n) return "end of file";
    unsigned c = p->s[p->i];
    if (c == '\n' || (c == '\r' && p->i + 1 < p->n && p->s[p->i + 1] == '\n')) return "end of line";
    if (c > 0x20 && c < 0x7F) {
        snprintf(buf, 32, "'%c'", (char)c);
        return buf;
    }
    if (c == ' ') return "a space";
    snprintf(buf, 32, "U+%04X", (unsigned)code_point_at(p->s, p->n, p->i));
    return buf;
}

/* A key for a message: quoted, escaped and shortened, so that control
 * characters or a megabyte-long key cannot garble the one-line error. */
static const char *show_key(const char *k, size_t len, char buf[96])
{
    size_t o = 0;
    buf[o++] = '"';
    for (size_t i = 0; i < len && o < 80; i++) {
        unsigned char c = (unsigned char)k[i];
        if (c < 0x20 || c == 0x7F) o += (size_t)snprintf(buf + o, 96 - o, "\\u%04X", c);
        else if (c == '"' || c == '\\') {
            buf[o++] = '\\';
            buf[o++] = (char)c;
        } else buf[o++] = (char)c;
        if (o >= 80 && i + 1 < len) {
            memcpy(buf + o, "...", 3);
            o += 3;
            break;
        }
    }
    buf[o++] = '"';
    buf[o] = '\0';
    return buf;
}

static const char *type_name(const weft_toml_value *v)
{
    switch (v->type) {
    case WEFT_TOML_TABLE: return v->flags & WEFT__TOML_INLINE ? "an inline table" : "a table";
    case WEFT_TOML_ARRAY: return v->flags & WEFT__TOML_AOT ? "an array of tables" : "an array";
    case WEFT_TOML_STRING: return "a string";
    case WEFT_TOML_INTEGER: return "an integer";
    case WEFT_TOML_FLOAT: return "a float";
    case WEFT_TOML_BOOL: return "a boolean";
    case WEFT_TOML_DATETIME: return "a date-time";
    case WEFT_TOML_LOCAL_DATETIME: return "a local date-time";
    case WEFT_TOML_LOCAL_DATE: return "a local date";
    case WEFT_TOML_LOCAL_TIME: return "a local time";
    }
    return "a value";
}

/* ---- UTF-8 ---- */

/* Rejects overlong forms, surrogates and code points past U+10FFFF. */
static weft_err check_utf8(parser *p)
{
    const unsigned char *s = p->s;
    size_t n = p->n;
    int line = 1, col = 1;
    for (size_t i = 0; i < n;) {
        unsigned c = s[i];
        size_t len = 0;
        uint32_t cp = 0, min = 0;
        if (c < 0x80) len = 1;
        else if (c >= 0xC2 && c <= 0xDF) len = 2, cp = c & 0x1F, min = 0x80;
        else if (c >= 0xE0 && c <= 0xEF) len = 3, cp = c & 0x0F, min = 0x800;
        else if (c >= 0xF0 && c <= 0xF4) len = 4, cp = c & 0x07, min = 0x10000;
        bool ok = len > 0 && i + len <= n;
        for (size_t k = 1; ok && k < len; k++) {
            if ((s[i + k] & 0xC0) != 0x80) ok = false;
            cp = (cp << 6) | (s[i + k] & 0x3F);
        }
        if (ok && len > 1 && (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))) ok = false;
        if (!ok)
            return fail_at(p, line, col, WEFT_ESYNTAX, "invalid UTF-8 (byte 0x%02X)", c);
        if (c == '\n') line++, col = 1;
        else col++;
        i += len;
    }
    return WEFT_OK;
}

/* ---- moving through the text ---- */

static bool eof(const parser *p) { return p->i >= p->n; }
static int peek(const parser *p) { return p->i < p->n ? p->s[p->i] : -1; }
static int peek_at(const parser *p, size_t k) { return p->i + k < p->n ? p->s[p->i + k] : -1; }

static void adv(parser *p)
{
    unsigned char c = p->s[p->i++];
    if (c == '\n') {
        p->line++;
        p->col = 1;
    } else if ((c & 0xC0) != 0x80) {
        p->col++;
    }
}

static void adv_n(parser *p, size_t k)
{
    while (k-- && !eof(p)) adv(p);
}

static bool is_control(int c) { return (c >= 0 && c < 0x20 && c != '\t') || c == 0x7F; }
static bool is_digit(int c) { return c >= '0' && c <= '9'; }
static bool is_hex(int c) { return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }
static bool is_bare(int c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || is_digit(c) || c == '_' || c == '-';
}

static void skip_ws(parser *p)
{
    while (peek(p) == ' ' || peek(p) == '\t') adv(p);
}

/* At '\n' or '\r\n': consumes it.  A lone '\r' is an error. */
static weft_err newline(parser *p)
{
    if (peek(p) == '\n') {
        adv(p);
        return WEFT_OK;
    }
    if (peek(p) == '\r' && peek_at(p, 1) == '\n') {
        adv_n(p, 2);
        return WEFT_OK;
    }
    return FAIL(p, "carriage return not followed by a line feed");
}

static bool at_newline(const parser *p) { return peek(p) == '\n' || peek(p) == '\r'; }

/* At '#': skips to the end of the line, which stays unread. */
static weft_err comment(parser *p)
{
    adv(p);
    for (int c; (c = peek(p)) != -1 && c != '\n'; adv(p)) {
        if (c == '\r') {
            if (peek_at(p, 1) == '\n') break;
            return FAIL(p, "carriage return not followed by a line feed");
        }
        if (is_control(c)) return FAIL(p, "control character U+%04X is not allowed in a comment", c);
    }
    return WEFT_OK;
}

/* Whitespace, newlines and comments: what may separate array elements. */
static weft_err skip_ws_nl(parser *p)
{
    for (;;) {
        skip_ws(p);
        weft_err e = WEFT_OK;
        if (peek(p) == '#') e = comment(p);
        else if (at_newline(p)) e = newline(p);
        else return WEFT_OK;
        if (e) return e;
    }
}

/* After a key/value pair or a header: only a comment may follow on the line. */
static weft_err end_of_line(parser *p, const char *after)
{
    skip_ws(p);
    if (peek(p) == '#') {
        weft_err e = comment(p);
        if (e) return e;
    }
    if (eof(p)) return WEFT_OK;
    if (at_newline(p)) return newline(p);
    char b[32];
    return FAIL(p, "expected end of line after %s, found %s", after, seen(p, b));
}

/* ---- strings ---- */

static weft_err sb_add(parser *p, const void *d, size_t n)
{
    weft_err e = weft__buf_add(&p->sb, d, n);
    return e ? fail_at(p, p->line, p->col, e, "string too long or out of memory") : WEFT_OK;
}

static weft_err add_utf8(parser *p, uint32_t cp)
{
    unsigned char b[4];
    size_t n;
    if (cp < 0x80) b[0] = (unsigned char)cp, n = 1;
    else if (cp < 0x800) {
        b[0] = (unsigned char)(0xC0 | (cp >> 6));
        b[1] = (unsigned char)(0x80 | (cp & 0x3F));
        n = 2;
    } else if (cp < 0x10000) {
        b[0] = (unsigned char)(0xE0 | (cp >> 12));
        b[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
        b[2] = (unsigned char)(0x80 | (cp & 0x3F));
        n = 3;
    } else {
        b[0] = (unsigned char)(0xF0 | (cp >> 18));
        b[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
        b[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
        b[3] = (unsigned char)(0x80 | (cp & 0x3F));
        n = 4;
    }
    return sb_add(p, b, n);
}

/* At '\\' inside a basic string. */
static weft_err escape(parser *p, bool multiline)
{
    int line = p->line, col = p->col;
    adv(p);
    int c = peek(p);
    if (multiline && (c == ' ' || c == '\t' || at_newline(p))) {
        /* A line-ending backslash eats the newline and all the whitespace
         * after it; only whitespace may sit between it and the newline. */
        skip_ws(p);
        if (!at_newline(p))
            return fail_at(p, line, col, WEFT_ESYNTAX,
                           "a backslash followed by spaces must end the line in a multi-line string");
        for (;;) {
            skip_ws(p);
            if (!at_newline(p)) return WEFT_OK;
            weft_err e = newline(p);
            if (e) return e;
        }
    }
    char ch;
    switch (c) {
    case 'b': ch = '\b'; break;
    case 't': ch = '\t'; break;
    case 'n': ch = '\n'; break;
    case 'f': ch = '\f'; break;
    case 'r': ch = '\r'; break;
    case '"': ch = '"'; break;
    case '\\': ch = '\\'; break;
    case 'u':
    case 'U': {
        int digits = c == 'u' ? 4 : 8;
        uint32_t cp = 0;
        adv(p);
        for (int k = 0; k < digits; k++) {
            int h = peek(p);
            if (!is_hex(h))
                return fail_at(p, line, col, WEFT_ESYNTAX, "\\%c escape needs %d hex digits", c, digits);
            cp = cp * 16 + (uint32_t)(is_digit(h) ? h - '0' : (h | 0x20) - 'a' + 10);
            adv(p);
        }
        if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return fail_at(p, line, col, WEFT_ESYNTAX,
                           "escape \\%c%0*X is not a Unicode scalar value", c, digits, (unsigned)cp);
        return add_utf8(p, cp);
    }
    default: {
        char b[32];
        if (c == -1) return fail_at(p, line, col, WEFT_ESYNTAX, "unterminated string");
        return fail_at(p, line, col, WEFT_ESYNTAX, "invalid escape sequence: backslash followed by %s",
                       seen(p, b));
    }
    }
    adv(p);
    return sb_add(p, &ch, 1);
}

/*
 * At a quote: decodes any of the four string forms into p->sb.  Keys may not
 * be multi-line strings.
 */
static weft_err string(parser *p, bool allow_multiline)
{
    int line = p->line, col = p->col;
    int q = peek(p);
    bool literal = q == '\'';
    bool multi = peek_at(p, 1) == q && peek_at(p, 2) == q;
    weft__buf_reset(&p->sb);
    weft_err e;
    if (!multi) {
        adv(p);
        for (;;) {
            int c = peek(p);
            if (c == -1 || at_newline(p))
                return fail_at(p, line, col, WEFT_ESYNTAX, "unterminated string");
            if (c == q) {
                adv(p);
                return WEFT_OK;
            }
            if (c == '\\' && !literal) e = escape(p, false);
            else if (is_control(c))
                e = FAIL(p, "control character U+%04X must be escaped in a string", c);
            else {
                e = sb_add(p, p->s + p->i, 1);
                adv(p);
            }
            if (e) return e;
        }
    }
    if (!allow_multiline) return FAIL(p, "a key cannot be a multi-line string");
    adv_n(p, 3);
    /* A newline right after the opening quotes is not part of the string. */
    if (at_newline(p) && (e = newline(p))) return e;
    for (;;) {
        int c = peek(p);
        if (c == -1) return fail_at(p, line, col, WEFT_ESYNTAX, "unterminated multi-line string");
        if (c == q) {
            size_t run = 0;
            while (peek_at(p, run) == q) run++;
            if (run >= 3) {
                /* Up to two quotes may sit right before the closing three. */
                if (run > 5) {
                    adv_n(p, 5);
                    return FAIL(p, "too many quotes at the end of a multi-line string");
                }
                if ((e = sb_add(p, p->s + p->i, run - 3))) return e;
                adv_n(p, run);
                return WEFT_OK;
            }
            e = sb_add(p, p->s + p->i, run);
            adv_n(p, run);
        } else if (c == '\\' && !literal) {
            e = escape(p, true);
        } else if (at_newline(p)) {
            e = newline(p);
            if (!e) e = sb_add(p, "\n", 1); /* CRLF becomes LF */
        } else if (is_control(c)) {
            e = FAIL(p, "control character U+%04X must be escaped in a string", c);
        } else {
            e = sb_add(p, p->s + p->i, 1);
            adv(p);
        }
        if (e) return e;
    }
}

/* Copies p->sb into the arena. */
static const char *sb_keep(parser *p)
{
    char *s = weft__toml_alloc(p->doc, p->sb.len + 1);
    if (s && p->sb.len) memcpy(s, p->sb.data, p->sb.len);
    return s;
}

/* ---- keys ---- */

static weft_err push_part(parser *p, const char *s, size_t len, int line, int col)
{
    if (WEFT__GROW(p->parts, p->nparts + 1, p->capparts)) return NOMEM(p);
    p->parts[p->nparts++] = (key_part){s, len, line, col};
    return WEFT_OK;
}

/* A dotted key: pushes its parts on p->parts. */
static weft_err key(parser *p)
{
    size_t first = p->nparts;
    for (;;) {
        int line = p->line, col = p->col;
        int c = peek(p);
        const char *s;
        size_t len;
        if (c == '"' || c == '\'') {
            weft_err e = string(p, false);
            if (e) return e;
            len = p->sb.len;
            if (!(s = sb_keep(p))) return NOMEM(p);
        } else if (is_bare(c)) {
            size_t start = p->i;
            while (is_bare(peek(p))) adv(p);
            s = (const char *)p->s + start;
            len = p->i - start;
        } else {
            char b[32];
            return FAIL(p, "expected a key, found %s", seen(p, b));
        }
        /* A key with more parts than the nesting limit would exceed it anyway. */
        if (p->nparts - first > WEFT_TOML_MAX_DEPTH)
            return fail_at(p, line, col, WEFT_ELIMIT, "key nested deeper than %d levels",
                           WEFT_TOML_MAX_DEPTH);
        weft_err e = push_part(p, s, len, line, col);
        if (e) return e;
        skip_ws(p);
        if (peek(p) != '.') return WEFT_OK;
        adv(p);
        skip_ws(p);
    }
}

/* The key parts [first, first+n) as a.b."c d" for messages. */
static const char *show_path(parser *p, size_t first, size_t n, char buf[256])
{
    size_t o = 0;
    buf[0] = '\0';
    for (size_t k = 0; k < n && o < 200; k++) {
        const key_part *kp = &p->parts[first + k];
        bool bare = kp->len > 0;
        for (size_t j = 0; j < kp->len; j++) bare = bare && is_bare((unsigned char)kp->s[j]);
        char kb[96];
        int w = bare && kp->len < 80
                    ? snprintf(buf + o, 256 - o, "%s%.*s", k ? "." : "", (int)kp->len, kp->s)
                    : snprintf(buf + o, 256 - o, "%s%s", k ? "." : "", show_key(kp->s, kp->len, kb));
        if (w > 0) o += (size_t)w;
        if (o >= 256) o = 255;
    }
    return buf;
}

/* ---- containers ---- */

static weft_err new_node(parser *p, weft_toml_type type, int depth_parent, int line, int col,
                         weft_toml_value **out)
{
    bool container = type == WEFT_TOML_TABLE || type == WEFT_TOML_ARRAY;
    if (container && depth_parent + 1 > WEFT_TOML_MAX_DEPTH)
        return fail_at(p, line, col, WEFT_ELIMIT, "tables and arrays nested deeper than %d levels",
                       WEFT_TOML_MAX_DEPTH);
    weft_toml_value *v = weft__toml_new(p->doc, type, line, col);
    if (!v) return NOMEM(p);
    v->depth = (uint16_t)(depth_parent + 1);
    *out = v;
    return WEFT_OK;
}

static weft_err insert(parser *p, weft_toml_value *t, const key_part *k, weft_toml_value *v)
{
    if (t->u.tab.len == 0 && t == p->doc->root) {
        /* The root's position is its first key. */
        t->line = k->line;
        t->col = k->col;
    }
    weft_err e = weft__toml_insert(p->doc, t, k->s, k->len, k->line, k->col, v);
    return e ? fail_at(p, k->line, k->col, e, "too many keys or out of memory") : WEFT_OK;
}

static weft_err push(parser *p, weft_toml_value *a, weft_toml_value *v)
{
    weft_err e = weft__toml_push(p->doc, a, v);
    return e ? fail_at(p, v->line, v->col, e, "array too long or out of memory") : WEFT_OK;
}

/* ---- numbers, booleans, date-times ---- */

/* Digits of `base` with single underscores between them, from t[*k];
 * returns how many digits, or -1 for a misplaced underscore. */
static int digits(const char *t, size_t len, size_t *k, int base)
{
    int count = 0;
    bool under = false;
    for (; *k < len; (*k)++) {
        int c = (unsigned char)t[*k];
        bool d = base == 16 ? is_hex(c) : c >= '0' && c < '0' + base;
        if (c == '_') {
            if (count == 0 || under) return -1;
            under = true;
        } else if (d) {
            count++;
            under = false;
        } else {
            break;
        }
    }
    return under ? -1 : count;
}

static int digit_value(int c) { return is_digit(c) ? c - '0' : (c | 0x20) - 'a' + 10; }

/* The token as shown in messages, computed only on the error paths (each
 * function that uses it has a char shown[96]). */
#define SHOWN show_key(t, len, shown)

/* A 0x/0o/0b integer: t[k] is the base letter after the '0'. */
static weft_err prefixed_integer(parser *p, const char *t, size_t len, size_t k, int line, int col,
                                 weft_toml_value *v)
{
    char shown[96];
    int base = t[k] == 'x' ? 16 : t[k] == 'o' ? 8 : 2;
    if (k > 1) return fail_at(p, line, col, WEFT_ESYNTAX, "a sign is not allowed before 0%c in %s", t[k], SHOWN);
    k++;
    size_t start = k;
    int nd = digits(t, len, &k, base);
    if (nd <= 0 || k != len)
        return fail_at(p, line, col, WEFT_ESYNTAX, "invalid %s integer %s",
                       base == 16 ? "hexadecimal" : base == 8 ? "octal" : "binary", SHOWN);
    uint64_t u = 0;
    for (size_t j = start; j < len; j++) {
        if (t[j] == '_') continue;
        unsigned d = (unsigned)digit_value((unsigned char)t[j]);
        if (u > ((uint64_t)INT64_MAX - d) / (uint64_t)base)
            return fail_at(p, line, col, WEFT_ESYNTAX, "integer %s does not fit in 64 bits", SHOWN);
        u = u * (uint64_t)base + d;
    }
    v->type = WEFT_TOML_INTEGER;
    v->u.i = (int64_t)u;
    return WEFT_OK;
}

/* The decimal digits t[istart..iend) (underscores already validated) as
 * an integer, negated when `neg`. */
static weft_err decimal_integer(parser *p, const char *t, size_t len, size_t istart, size_t iend,
                                bool neg, int line, int col, weft_toml_value *v)
{
    char shown[96];
    /* Accumulate negatively: INT64_MIN has no positive counterpart. */
    int64_t x = 0;
    for (size_t j = istart; j < iend; j++) {
        if (t[j] == '_') continue;
        int d = t[j] - '0';
        if (x < (INT64_MIN + d) / 10)
            return fail_at(p, line, col, WEFT_ESYNTAX, "integer %s does not fit in 64 bits", SHOWN);
        x = x * 10 - d;
    }
    if (!neg && x == INT64_MIN)
        return fail_at(p, line, col, WEFT_ESYNTAX, "integer %s does not fit in 64 bits", SHOWN);
    v->type = WEFT_TOML_INTEGER;
    v->u.i = neg ? x : -x;
    return WEFT_OK;
}

/* A number, boolean, inf or nan from the token t (bare characters). */
static weft_err number(parser *p, const char *t, size_t len, int line, int col, weft_toml_value *v)
{
    char shown[96];
    if ((len == 4 && memcmp(t, "true", 4) == 0) || (len == 5 && memcmp(t, "false", 5) == 0)) {
        v->type = WEFT_TOML_BOOL;
        v->u.b = len == 4;
        return WEFT_OK;
    }
    size_t k = 0;
    bool neg = false;
    if (t[0] == '+' || t[0] == '-') neg = t[k++] == '-';
    const char *r = t + k;
    size_t rl = len - k;
    if (rl == 3 && (memcmp(r, "inf", 3) == 0 || memcmp(r, "nan", 3) == 0)) {
        v->type = WEFT_TOML_FLOAT;
        v->u.f = r[0] == 'i' ? (neg ? -HUGE_VAL : HUGE_VAL) : (neg ? -NAN : NAN);
        return WEFT_OK;
    }
    if (rl >= 2 && r[0] == '0' && (r[1] == 'x' || r[1] == 'o' || r[1] == 'b'))
        return prefixed_integer(p, t, len, k + 1, line, col, v);
    size_t istart = k;
    int nd = digits(t, len, &k, 10);
    if (nd <= 0) {
        bool word = (t[0] | 0x20) >= 'a' && (t[0] | 0x20) <= 'z';
        return fail_at(p, line, col, WEFT_ESYNTAX, "invalid value %s%s", SHOWN,
                       word ? " (a string needs quotes)" : "");
    }
    if (t[istart] == '0' && nd > 1)
        return fail_at(p, line, col, WEFT_ESYNTAX, "leading zeros are not allowed in %s", SHOWN);
    size_t iend = k;
    bool is_float = false;
    if (k < len && t[k] == '.') {
        k++;
        if (digits(t, len, &k, 10) <= 0)
            return fail_at(p, line, col, WEFT_ESYNTAX, "a decimal point must be followed by digits in %s",
                           SHOWN);
        is_float = true;
    }
    if (k < len && (t[k] == 'e' || t[k] == 'E')) {
        k++;
        if (k < len && (t[k] == '+' || t[k] == '-')) k++;
        if (digits(t, len, &k, 10) <= 0)
            return fail_at(p, line, col, WEFT_ESYNTAX, "invalid exponent in %s", SHOWN);
        is_float = true;
    }
    if (k != len) return fail_at(p, line, col, WEFT_ESYNTAX, "invalid number %s", SHOWN);
    if (!is_float) return decimal_integer(p, t, len, istart, iend, neg, line, col, v);
    weft__buf_reset(&p->sb);
    for (size_t j = 0; j < len; j++)
        if (t[j] != '_' && sb_add(p, t + j, 1)) return NOMEM(p);
    char *end;
    v->type = WEFT_TOML_FLOAT;
    v->u.f = strtod(p->sb.data, &end);
    if (*end) return fail_at(p, line, col, WEFT_ESYNTAX, "invalid float %s", SHOWN);
    return WEFT_OK;
}
#undef SHOWN

/* n digits at the current position into *out. */
static bool fixed_digits(parser *p, int n, int *out)
{
    int x = 0;
    for (int k = 0; k < n; k++) {
        int c = peek_at(p, (size_t)k);
        if (!is_digit(c)) return false;
        x = x * 10 + (c - '0');
    }
    adv_n(p, (size_t)n);
    *out = x;
    return true;
}

static bool leap(int y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

/* hh:mm:ss[.frac] */
static weft_err time_part(parser *p, weft_toml_datetime *dt, int line, int col)
{
    if (!fixed_digits(p, 2, &dt->hour) || peek(p) != ':')
        return fail_at(p, line, col, WEFT_ESYNTAX, "invalid time: expected hh:mm:ss");
    adv(p);
    if (!fixed_digits(p, 2, &dt->minute) || peek(p) != ':')
        return fail_at(p, line, col, WEFT_ESYNTAX, "invalid time: expected hh:mm:ss (seconds are required)");
    adv(p);
    if (!fixed_digits(p, 2, &dt->second))
        return fail_at(p, line, col, WEFT_ESYNTAX, "invalid time: expected hh:mm:ss");
    if (dt->hour > 23 || dt->minute > 59 || dt->second > 60)
        return fail_at(p, line, col, WEFT_ESYNTAX, "time %02d:%02d:%02d is out of range", dt->hour,
                       dt->minute, dt->second);
    if (peek(p) == '.') {
        adv(p);
        if (!is_digit(peek(p)))
            return fail_at(p, line, col, WEFT_ESYNTAX, "a decimal point must be followed by digits in a time");
        int nd = 0;
        /* Finer than nanoseconds is truncated, as the spec allows. */
        for (; is_digit(peek(p)); adv(p), nd++)
            if (nd < 9) dt->nanosecond = dt->nanosecond * 10 + (peek(p) - '0');
        for (; nd < 9; nd++) dt->nanosecond *= 10;
    }
    return WEFT_OK;
}

/* At dddd- (a date) or dd: (a time). */
static weft_err datetime(parser *p, weft_toml_value *v)
{
    int line = v->line, col = v->col;
    weft_toml_datetime *dt = &v->u.dt;
    if (peek_at(p, 2) == ':') {
        v->type = WEFT_TOML_LOCAL_TIME;
        return time_part(p, dt, line, col);
    }
    if (!fixed_digits(p, 4, &dt->year) || peek(p) != '-')
        return fail_at(p, line, col, WEFT_ESYNTAX, "invalid date: expected yyyy-mm-dd");
    adv(p);
    if (!fixed_digits(p, 2, &dt->month) || peek(p) != '-')
        return fail_at(p, line, col, WEFT_ESYNTAX, "invalid date: expected yyyy-mm-dd");
    adv(p);
    if (!fixed_digits(p, 2, &dt->day))
        return fail_at(p, line, col, WEFT_ESYNTAX, "invalid date: expected yyyy-mm-dd");
    static const int mdays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (dt->month < 1 || dt->month > 12)
        return fail_at(p, line, col, WEFT_ESYNTAX, "month %02d is out of range", dt->month);
    int dim = mdays[dt->month - 1] + (dt->month == 2 && leap(dt->year));
    if (dt->day < 1 || dt->day > dim)
        return fail_at(p, line, col, WEFT_ESYNTAX, "day %02d is out of range for %04d-%02d", dt->day,
                       dt->year, dt->month);
    v->type = WEFT_TOML_LOCAL_DATE;
    int c = peek(p);
    bool t = (c == 'T' || c == 't') && is_digit(peek_at(p, 1));
    /* A space separates date and time only when a time follows. */
    bool space = c == ' ' && is_digit(peek_at(p, 1)) && is_digit(peek_at(p, 2)) && peek_at(p, 3) == ':';
    if (!t && !space) return WEFT_OK;
    adv(p);
    weft_err e = time_part(p, dt, line, col);
    if (e) return e;
    v->type = WEFT_TOML_LOCAL_DATETIME;
    c = peek(p);
    if (c == 'Z' || c == 'z') {
        adv(p);
        v->type = WEFT_TOML_DATETIME;
    } else if (c == '+' || c == '-') {
        adv(p);
        int oh, om;
        if (!fixed_digits(p, 2, &oh) || peek(p) != ':')
            return fail_at(p, line, col, WEFT_ESYNTAX, "invalid time offset: expected +hh:mm");
        adv(p);
        if (!fixed_digits(p, 2, &om))
            return fail_at(p, line, col, WEFT_ESYNTAX, "invalid time offset: expected +hh:mm");
        if (oh > 23 || om > 59)
            return fail_at(p, line, col, WEFT_ESYNTAX, "time offset %02d:%02d is out of range", oh, om);
        dt->offset_minutes = (c == '-' ? -1 : 1) * (oh * 60 + om);
        v->type = WEFT_TOML_DATETIME;
    }
    return WEFT_OK;
}

/* ---- values ---- */

static weft_err value(parser *p, int depth_parent, weft_toml_value **out);

static weft_err array(parser *p, int depth_parent, weft_toml_value **out)
{
    weft_toml_value *a;
    weft_err e = new_node(p, WEFT_TOML_ARRAY, depth_parent, p->line, p->col, &a);
    if (e) return e;
    adv(p);
    for (;;) {
        if ((e = skip_ws_nl(p))) return e;
        if (peek(p) == ']') break;
        weft_toml_value *v;
        if ((e = value(p, a->depth, &v)) || (e = push(p, a, v)) || (e = skip_ws_nl(p))) return e;
        if (peek(p) == ',') {
            adv(p);
            continue;
        }
        if (peek(p) == ']') break;
        char b[32];
        return FAIL(p, "expected ',' or ']' in array, found %s", seen(p, b));
    }
    adv(p);
    *out = a;
    return WEFT_OK;
}

static weft_err keyval(parser *p, weft_toml_value *t);

static weft_err inline_table(parser *p, int depth_parent, weft_toml_value **out)
{
    weft_toml_value *t;
    weft_err e = new_node(p, WEFT_TOML_TABLE, depth_parent, p->line, p->col, &t);
    if (e) return e;
    t->flags = WEFT__TOML_INLINE;
    adv(p);
    skip_ws(p);
    char b[32];
    if (peek(p) != '}') {
        for (;;) {
            if ((e = keyval(p, t))) return e;
            skip_ws(p);
            if (peek(p) == '}') break;
            if (peek(p) != ',') {
                if (at_newline(p) || peek(p) == '#')
                    return FAIL(p, "an inline table must be on one line (expected ',' or '}', found %s)",
                                seen(p, b));
                return FAIL(p, "expected ',' or '}' in inline table, found %s", seen(p, b));
            }
            adv(p);
            skip_ws(p);
            if (peek(p) == '}') return FAIL(p, "a trailing comma is not allowed in an inline table");
        }
    }
    adv(p);
    *out = t;
    return WEFT_OK;
}

static weft_err value(parser *p, int depth_parent, weft_toml_value **out)
{
    int c = peek(p);
    char b[32];
    if (c == '[') return array(p, depth_parent, out);
    if (c == '{') return inline_table(p, depth_parent, out);
    weft_toml_value *v;
    weft_err e = new_node(p, WEFT_TOML_STRING, depth_parent, p->line, p->col, &v);
    if (e) return e;
    if (c == '"' || c == '\'') {
        if ((e = string(p, true))) return e;
        if (!(v->u.str.s = sb_keep(p))) return NOMEM(p);
        v->u.str.len = p->sb.len;
    } else if (is_digit(c) && is_digit(peek_at(p, 1)) &&
               ((is_digit(peek_at(p, 2)) && is_digit(peek_at(p, 3)) && peek_at(p, 4) == '-') ||
                peek_at(p, 2) == ':')) {
        if ((e = datetime(p, v))) return e;
    } else if (is_bare(c) || c == '+' || c == '.') {
        size_t start = p->i;
        while (is_bare(peek(p)) || peek(p) == '+' || peek(p) == '.') adv(p);
        if ((e = number(p, (const char *)p->s + start, p->i - start, v->line, v->col, v))) return e;
    } else {
        return FAIL(p, "expected a value, found %s", seen(p, b));
    }
    *out = v;
    return WEFT_OK;
}

/* ---- key/value pairs and headers ---- */

/* One step down a dotted key or a table header: the entry of `kp` in *t
 * (*en), or, when *t has none, a new table marked `flags` put there, and *t
 * moved to it (*en NULL).  What an existing entry may be differs between
 * the two callers (TOML's rules for redefinition), so they judge *en. */
static weft_err step_or_create(parser *p, weft_toml_value **t, const key_part *kp, int flags,
                               const weft__toml_entry **en)
{
    long i = weft__toml_find(*t, kp->s, kp->len);
    if (i >= 0) {
        *en = &(*t)->u.tab.ents[i];
        return WEFT_OK;
    }
    *en = NULL;
    weft_toml_value *nt;
    weft_err e;
    if ((e = new_node(p, WEFT_TOML_TABLE, (*t)->depth, kp->line, kp->col, &nt)) ||
        (e = insert(p, *t, kp, nt)))
        return e;
    nt->flags = flags;
    *t = nt;
    return WEFT_OK;
}

/* `key = value` into table t (a section's table or an inline table). */
static weft_err keyval(parser *p, weft_toml_value *t)
{
    size_t first = p->nparts;
    weft_err e = key(p);
    if (e) return e;
    size_t n = p->nparts - first;
    char b[32], kb[96], pb[256];
    if (peek(p) != '=') {
        const key_part *last = &p->parts[p->nparts - 1];
        return FAIL(p, "expected '=' after key %s, found %s", show_key(last->s, last->len, kb),
                    seen(p, b));
    }
    adv(p);
    skip_ws(p);
    /* Walk (and create) the tables of a dotted key.  Only tables made by
     * dotted keys may be extended this way. */
    for (size_t k = 0; k + 1 < n; k++) {
        const key_part *kp = &p->parts[first + k];
        const weft__toml_entry *en;
        if ((e = step_or_create(p, &t, kp, WEFT__TOML_DOTTED, &en))) return e;
        if (!en) continue;
        weft_toml_value *v = en->val;
        if (v->type == WEFT_TOML_TABLE && (v->flags & WEFT__TOML_DOTTED)) {
            t = v;
            continue;
        }
        show_path(p, first, k + 1, pb);
        if (v->type != WEFT_TOML_TABLE)
            return fail_at(p, kp->line, kp->col, WEFT_ESYNTAX,
                           "cannot add keys to \"%s\": it is %s (defined at %d:%d)", pb, type_name(v),
                           en->line, en->col);
        if (v->flags & WEFT__TOML_INLINE)
            return fail_at(p, kp->line, kp->col, WEFT_ESYNTAX,
                           "cannot add keys to inline table \"%s\" (defined at %d:%d): an inline "
                           "table is complete once written", pb, en->line, en->col);
        return fail_at(p, kp->line, kp->col, WEFT_ESYNTAX,
                       "cannot add keys to table \"%s\" with a dotted key: it belongs to a [table] "
                       "header (defined at %d:%d)", pb, en->line, en->col);
    }
    key_part last = p->parts[first + n - 1];
    long i = weft__toml_find(t, last.s, last.len);
    if (i >= 0) {
        const weft__toml_entry *en = &t->u.tab.ents[i];
        return fail_at(p, last.line, last.col, WEFT_ESYNTAX, "duplicate key \"%s\" (first defined at %d:%d)",
                       show_path(p, first, n, pb), en->line, en->col);
    }
    weft_toml_value *v;
    if ((e = value(p, t->depth, &v))) return e;
    p->nparts = first; /* nested keys are done with, and so are ours */
    return insert(p, t, &last, v);
}

/* At '[': a [table] or [[array of tables]] header; *cur becomes its table. */
static weft_err header(parser *p, weft_toml_value **cur)
{
    int line = p->line, col = p->col;
    bool aot = peek_at(p, 1) == '[';
    adv_n(p, aot ? 2 : 1);
    skip_ws(p);
    size_t first = p->nparts;
    weft_err e = key(p);
    if (e) return e;
    size_t n = p->nparts - first;
    char b[32], pb[256];
    if (peek(p) != ']' || (aot && peek_at(p, 1) != ']'))
        return FAIL(p, "expected '%s' to close the header, found %s", aot ? "]]" : "]", seen(p, b));
    adv_n(p, aot ? 2 : 1);
    weft_toml_value *t = p->doc->root;
    for (size_t k = 0; k + 1 < n; k++) {
        const key_part *kp = &p->parts[first + k];
        const weft__toml_entry *en;
        if ((e = step_or_create(p, &t, kp, WEFT__TOML_IMPLICIT, &en))) return e;
        if (!en) continue;
        weft_toml_value *v = en->val;
        if (v->type == WEFT_TOML_TABLE && !(v->flags & WEFT__TOML_INLINE)) {
            t = v;
        } else if (v->type == WEFT_TOML_ARRAY && (v->flags & WEFT__TOML_AOT)) {
            t = v->u.arr.items[v->u.arr.len - 1]; /* the latest [[element]] */
        } else {
            return fail_at(p, kp->line, kp->col, WEFT_ESYNTAX,
                           "cannot define a table inside \"%s\": it is %s (defined at %d:%d)",
                           show_path(p, first, k + 1, pb), type_name(v), en->line, en->col);
        }
    }
    key_part last = p->parts[first + n - 1];
    show_path(p, first, n, pb);
    p->nparts = first;
    long i = weft__toml_find(t, last.s, last.len);
    weft_toml_value *v = i >= 0 ? t->u.tab.ents[i].val : NULL;
    int dl = i >= 0 ? t->u.tab.ents[i].line : 0, dc = i >= 0 ? t->u.tab.ents[i].col : 0;
    if (!aot) {
        if (!v) {
            if ((e = new_node(p, WEFT_TOML_TABLE, t->depth, line, col, &v)) || (e = insert(p, t, &last, v)))
                return e;
            v->flags = WEFT__TOML_EXPLICIT;
        } else if (v->type == WEFT_TOML_TABLE && v->flags == WEFT__TOML_IMPLICIT) {
            v->flags = WEFT__TOML_EXPLICIT;
            v->line = line;
            v->col = col;
        } else if (v->type == WEFT_TOML_TABLE && (v->flags & WEFT__TOML_EXPLICIT)) {
            return fail_at(p, line, col, WEFT_ESYNTAX, "table [%s] defined twice (first defined at %d:%d)",
                           pb, v->line, v->col);
        } else {
            return fail_at(p, line, col, WEFT_ESYNTAX, "cannot define table [%s]: %s is already %s (defined at %d:%d)",
                           pb, pb, v->type == WEFT_TOML_TABLE && (v->flags & WEFT__TOML_DOTTED)
                                       ? "a table made by dotted keys" : type_name(v), dl, dc);
        }
        *cur = v;
        return WEFT_OK;
    }
    if (!v) {
        if ((e = new_node(p, WEFT_TOML_ARRAY, t->depth, line, col, &v)) || (e = insert(p, t, &last, v)))
            return e;
        v->flags = WEFT__TOML_AOT;
    } else if (v->type != WEFT_TOML_ARRAY || !(v->flags & WEFT__TOML_AOT)) {
        return fail_at(p, line, col, WEFT_ESYNTAX, "cannot append to [[%s]]: %s is already %s (defined at %d:%d)",
                       pb, pb, type_name(v), dl, dc);
    }
    weft_toml_value *el;
    if ((e = new_node(p, WEFT_TOML_TABLE, v->depth, line, col, &el)) || (e = push(p, v, el))) return e;
    el->flags = WEFT__TOML_EXPLICIT;
    *cur = el;
    return WEFT_OK;
}

static weft_err document(parser *p)
{
    weft_err e = check_utf8(p);
    if (e) return e;
    if (p->n >= 3 && memcmp(p->s, "\xEF\xBB\xBF", 3) == 0) p->i = 3; /* byte order mark */
    weft_toml_value *cur = p->doc->root;
    for (;;) {
        skip_ws(p);
        int c = peek(p);
        if (c == -1) return WEFT_OK;
        if (c == '#') e = comment(p);
        else if (at_newline(p)) e = newline(p);
        else if (c == '[') {
            if (!(e = header(p, &cur))) e = end_of_line(p, "a table header");
        } else {
            if (!(e = keyval(p, cur))) e = end_of_line(p, "a value");
        }
        if (e) return e;
    }
}

weft_err weft_toml_parse(const char *text, size_t len, const char *name, weft_toml **out, char *err)
{
    if (!out) return weft__err(err, WEFT_EINVAL, "weft_toml_parse: out is NULL");
    *out = NULL;
    if (!text && len) return weft__err(err, WEFT_EINVAL, "weft_toml_parse: text is NULL");
    parser p = {
        .s = (const unsigned char *)(text ? text : ""),
        .n = len,
        .line = 1,
        .col = 1,
        .name = name ? name : "<string>",
        .err = err,
        .sb = WEFT_BUF_INIT,
    };
    p.doc = weft__toml_new_doc();
    if (!p.doc) return weft__err(err, WEFT_ENOMEM, "%s: out of memory", p.name);
    weft_err e = document(&p);
    weft__buf_release(&p.sb);
    free(p.parts);
    if (e) {
        weft_toml_free(p.doc);
        return e;
    }
    *out = p.doc;
    return WEFT_OK;
}

weft_err weft_toml_parse_file(const char *path, weft_toml **out, char *err)
{
    if (!out) return weft__err(err, WEFT_EINVAL, "weft_toml_parse_file: out is NULL");
    *out = NULL;
    if (!path) return weft__err(err, WEFT_EINVAL, "weft_toml_parse_file: path is NULL");
    char *text;
    size_t len;
    weft_err e = weft__read_file(path, &text, &len, err);
    if (e) return e;
    e = weft_toml_parse(text, len, path, out, err);
    free(text);
    return e;
}
