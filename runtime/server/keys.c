/* keys.c - loading and checking API keys (see keys.h). */
#define _POSIX_C_SOURCE 200809L /* getline, strdup */
#include "keys.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

static int fail(char *err, size_t err_len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int fail(char *err, size_t err_len, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, err_len, fmt, ap);
    va_end(ap);
    return -1;
}

static int valid_name(const char *s, size_t n) {
    if (n == 0 || n >= SRV_KEY_NAME_MAX) return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
                 c == '-' || c == '.';
        if (!ok) return 0;
    }
    return 1;
}

/* Trims spaces, tabs and line ends from both sides of s[0..*n). */
static const char *trim(const char *s, size_t *n) {
    while (*n > 0 && (*s == ' ' || *s == '\t')) s++, (*n)--;
    while (*n > 0 && (s[*n - 1] == ' ' || s[*n - 1] == '\t' || s[*n - 1] == '\r' || s[*n - 1] == '\n')) (*n)--;
    return s;
}

/* Adds one key; -1 with the reason in err.  where names its origin ("line 3 of keys.txt"). */
static int add_key(srv_keys *k, const char *name, size_t name_len, const char *key, size_t key_len,
                   const char *where, char *err, size_t err_len) {
    if (!valid_name(name, name_len))
        return fail(err, err_len, "%s: a key name is 1-%d characters of A-Z a-z 0-9 _ . -", where,
                    SRV_KEY_NAME_MAX - 1);
    if (key_len == 0) return fail(err, err_len, "%s: the key after the ':' is empty", where);
    if (k->n == SRV_MAX_KEYS) return fail(err, err_len, "%s: more than %d keys", where, SRV_MAX_KEYS);
    for (int i = 0; i < k->n; i++)
        if (strlen(k->keys[i].name) == name_len && !memcmp(k->keys[i].name, name, name_len))
            return fail(err, err_len, "%s: the name '%.*s' is used twice", where, (int)name_len, name);
    srv_key *grown = realloc(k->keys, sizeof(*grown) * (size_t)(k->n + 1));
    if (!grown) return fail(err, err_len, "out of memory for the API keys");
    k->keys = grown;
    srv_key *e = &k->keys[k->n];
    e->key = malloc(key_len + 1);
    if (!e->key) return fail(err, err_len, "out of memory for the API keys");
    memcpy(e->name, name, name_len);
    e->name[name_len] = '\0';
    memcpy(e->key, key, key_len);
    e->key[key_len] = '\0';
    e->key_len = key_len;
    k->n++;
    return 0;
}

/* One line of the key file: blank, a # comment, or name:key. */
static int parse_line(srv_keys *k, const char *line, size_t len, const char *where, char *err, size_t err_len) {
    line = trim(line, &len);
    if (len == 0 || line[0] == '#') return 0;
    const char *colon = memchr(line, ':', len);
    if (!colon) return fail(err, err_len, "%s: expected name:key", where);
    size_t name_len = (size_t)(colon - line), key_len = len - name_len - 1;
    const char *name = trim(line, &name_len), *key = trim(colon + 1, &key_len);
    return add_key(k, name, name_len, key, key_len, where, err, err_len);
}

static int load_file(srv_keys *k, const char *file, char *err, size_t err_len) {
    FILE *f = fopen(file, "r");
    if (!f) return fail(err, err_len, "cannot open the key file %s: %s", file, strerror(errno));
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    int rc = 0, line_no = 0;
    while (rc == 0 && (len = getline(&line, &cap, f)) >= 0) {
        char where[64 + 4096];
        snprintf(where, sizeof(where), "line %d of %.4000s", ++line_no, file);
        rc = parse_line(k, line, (size_t)len, where, err, err_len);
    }
    if (line) memset(line, 0, cap); /* it held a key */
    free(line);
    if (rc == 0 && ferror(f)) rc = fail(err, err_len, "cannot read the key file %s", file);
    fclose(f);
    if (rc == 0 && k->n == 0) rc = fail(err, err_len, "the key file %s holds no name:key line", file);
    return rc;
}

int srv_keys_load(srv_keys *k, const char *file, const char *env_key, char *err, size_t err_len) {
    k->keys = NULL;
    k->n = 0;
    int rc = file ? load_file(k, file, err, err_len) : 0;
    if (rc == 0 && env_key && env_key[0]) {
        size_t n = strlen(env_key);
        const char *key = trim(env_key, &n);
        rc = add_key(k, "default", 7, key, n, "EDGEC_API_KEY", err, err_len);
    }
    if (rc != 0) srv_keys_free(k);
    return rc;
}

/* 0 if a[0..n) equals key, else non-zero, looking at every byte of key whatever a holds. */
static unsigned char differs(const char *a, size_t n, const srv_key *key) {
    unsigned char d = (unsigned char)(n != key->key_len);
    for (size_t i = 0; i < key->key_len; i++) {
        unsigned char c = i < n ? (unsigned char)a[i] : 0;
        d |= (unsigned char)(c ^ (unsigned char)key->key[i]);
    }
    return d;
}

int srv_keys_find(const srv_keys *k, const char *presented, size_t n) {
    int found = -1;
    for (int i = 0; i < k->n; i++) {
        int match = differs(presented, n, &k->keys[i]) == 0;
        found = match ? i : found; /* no early exit: every key is compared */
    }
    return found;
}

void srv_keys_free(srv_keys *k) {
    for (int i = 0; i < k->n; i++) {
        volatile char *p = k->keys[i].key;
        for (size_t j = 0; j < k->keys[i].key_len; j++) p[j] = 0;
        free(k->keys[i].key);
    }
    free(k->keys);
    k->keys = NULL;
    k->n = 0;
}
