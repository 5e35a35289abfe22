/* keys.h - API keys: "name:key" lines of --api-key-file and/or EDGEC_API_KEY (named "default").
 * Keys are compared in constant time and never printed; only their names reach logs and /metrics. */
#ifndef EDGEC_SRV_KEYS_H
#define EDGEC_SRV_KEYS_H

#include <stddef.h>

#define SRV_MAX_KEYS 1024
#define SRV_KEY_NAME_MAX 64

typedef struct {
    char name[SRV_KEY_NAME_MAX];   /* [A-Za-z0-9_.-]+: safe in a log line and a metric label */
    char *key;
    size_t key_len;
} srv_key;

typedef struct {
    srv_key *keys;
    int n;
} srv_keys;

/* Loads the keys of file (may be NULL) and env_key (may be NULL or ""). Returns 0, or -1 with a
 * one-line reason in err that names the file and line but never a key. */
int srv_keys_load(srv_keys *k, const char *file, const char *env_key, char *err, size_t err_len);

/* The index of the key equal to the n bytes of presented, or -1; the time taken does not depend on
 * where presented differs from a key. */
int srv_keys_find(const srv_keys *k, const char *presented, size_t n);

/* Wipes and frees the keys. */
void srv_keys_free(srv_keys *k);

#endif
