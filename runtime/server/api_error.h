/* api_error.h - an error answer in OpenAI's shape: {"error": {"message", "type", "param", "code"}}. */
#ifndef EDGEC_SRV_API_ERROR_H
#define EDGEC_SRV_API_ERROR_H

typedef struct {
    int status;          /* the HTTP status */
    const char *type;    /* "invalid_request_error", "authentication_error", ... */
    const char *code;    /* a machine-readable code, or NULL */
    char param[96];      /* the request field at fault, "" if none */
    char message[400];
} srv_error;

/* Fills e and returns -1 (so a parser can `return srv_fail(...)`). param may be NULL. */
int srv_fail(srv_error *e, int status, const char *type, const char *code, const char *param, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));

/* The common case: a 400 invalid_request_error about param. */
int srv_bad_field(srv_error *e, const char *param, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
