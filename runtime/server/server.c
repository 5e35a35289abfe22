/* server.c - starting and stopping the HTTP server (see server.h). */
#define _POSIX_C_SOURCE 200809L /* sigaction, nanosleep, getaddrinfo */
#include "server.h"

#include <stdio.h>

#ifndef EDGEC_WITH_SERVER

int edgec_server_built_in(void) { return 0; }

int edgec_server_run(const edgec_server_config *cfg) {
    (void)cfg;
    fprintf(stderr, "error: this program was built without the HTTP server (libmicrohttpd and cJSON were not found "
                    "for its target when it was compiled); install libmicrohttpd-dev and libcjson-dev for that "
                    "architecture (Debian: apt-get install libmicrohttpd-dev:ARCH libcjson-dev:ARCH) and recompile "
                    "it with edgec compile\n");
    return 2;
}

#else

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>

#include "chat_text.h"
#include "http.h"
#include "server_context.h"

#define SRV_MAX_CONNECTIONS 4096   /* open connections, idle ones included; more wait in the kernel's backlog */
#define SRV_TICK_MS 100            /* how often deadlines and hang-ups are checked */

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig) {
    (void)sig;
    stop_requested = 1;
}

static void install_signals(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN); /* a client gone mid-write is an error code, not the end of the server */
}

/* Room for the connection limit in the file-descriptor limit; returns the connections to allow. */
static unsigned connection_limit(void) {
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return 1000;
    rlim_t want = SRV_MAX_CONNECTIONS + 64;
    if (rl.rlim_cur < want) {
        rl.rlim_cur = rl.rlim_max < want ? rl.rlim_max : want;
        setrlimit(RLIMIT_NOFILE, &rl);
        getrlimit(RLIMIT_NOFILE, &rl);
    }
    return rl.rlim_cur > want ? SRV_MAX_CONNECTIONS : rl.rlim_cur > 128 ? (unsigned)(rl.rlim_cur - 64) : 64;
}

/* ---- the listening socket ---- */

static int is_loopback(const struct sockaddr *a) {
    if (a->sa_family == AF_INET)
        return (ntohl(((const struct sockaddr_in *)(const void *)a)->sin_addr.s_addr) >> 24) == 127;
    if (a->sa_family == AF_INET6)
        return IN6_IS_ADDR_LOOPBACK(&((const struct sockaddr_in6 *)(const void *)a)->sin6_addr);
    return 0;
}

/* A socket listening on host:port, or -1 with the reason in err; *loopback and *bound_port set. */
static int listen_on(const char *host, int port, int *loopback, int *bound_port, char *err, size_t err_len) {
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE;
    char port_s[16];
    snprintf(port_s, sizeof(port_s), "%d", port);
    int rc = getaddrinfo(host, port_s, &hints, &res);
    if (rc != 0) {
        snprintf(err, err_len, "cannot resolve --host %s: %s", host, gai_strerror(rc));
        return -1;
    }
    int fd = socket(res->ai_family, res->ai_socktype | SOCK_CLOEXEC, res->ai_protocol), one = 1;
    if (fd >= 0) setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (fd < 0 || bind(fd, res->ai_addr, res->ai_addrlen) != 0 || listen(fd, 1024) != 0) {
        snprintf(err, err_len, "cannot listen on %s port %d: %s%s", host, port, strerror(errno),
                 errno == EADDRINUSE ? " (another program uses it; pick another --port)" : "");
        if (fd >= 0) close(fd);
        freeaddrinfo(res);
        return -1;
    }
    *loopback = is_loopback(res->ai_addr);
    freeaddrinfo(res);
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    getsockname(fd, (struct sockaddr *)&ss, &len);
    *bound_port = ss.ss_family == AF_INET6 ? ntohs(((struct sockaddr_in6 *)&ss)->sin6_port)
                                           : ntohs(((struct sockaddr_in *)&ss)->sin_port);
    return fd;
}

/* ---- the context ---- */

static void describe_model(srv_context *ctx, const edgec_server_config *cfg) {
    const edgec_model_info *info = edgec_model_get_info();
    srv_api *api = &ctx->api;
    api->tok = cfg->tok;
    api->chat = edgec_chat_format_or_plain(cfg->tok);
    api->model_name = info->name;
    api->max_ctx = info->max_ctx;
    srv_params *d = &api->defaults;
    memset(d, 0, sizeof(*d));
    d->temperature = cfg->temperature;
    d->top_p = cfg->top_p;
    d->min_p = cfg->min_p;
    d->top_k = cfg->top_k;
    d->repeat_penalty = cfg->repeat_penalty;
    d->repeat_last_n = cfg->repeat_last_n;
    d->max_tokens = cfg->max_tokens;
    d->ignore_eos = cfg->ignore_eos;
    ctx->started = (long long)time(NULL);
}

/* Keys, metrics, engine and watch; 0, or -1 with the reason in err. */
static int open_context(srv_context *ctx, const edgec_server_config *cfg, char *err, size_t err_len) {
    memset(ctx, 0, sizeof(*ctx));
    describe_model(ctx, cfg);
    if (srv_keys_load(&ctx->keys, cfg->api_key_file, getenv("EDGEC_API_KEY"), err, err_len) != 0) return -1;
    if (srv_metrics_init(&ctx->metrics, &ctx->keys) != 0) {
        snprintf(err, err_len, "out of memory for the server's metrics");
        return -1;
    }
    ctx->watch = srv_watch_new(cfg->timeout_s * 1000.0);
    if (!ctx->watch) {
        snprintf(err, err_len, "out of memory for the server's connection list");
        return -1;
    }
    ctx->engine = srv_engine_start(cfg->model, cfg->tok, &ctx->metrics, cfg->max_queue, err, err_len);
    return ctx->engine ? 0 : -1;
}

static void close_context(srv_context *ctx) {
    srv_engine_free(ctx->engine);
    ctx->engine = NULL;
    srv_watch_free(ctx->watch);
    if (ctx->metrics.per_key) srv_metrics_free(&ctx->metrics);
    srv_keys_free(&ctx->keys);
}

/* ---- running ---- */

static void announce(const srv_context *ctx, const edgec_server_config *cfg, int port, int loopback) {
    int slots = srv_engine_slots(ctx->engine);
    fprintf(stderr, "edgec server: listening on http://%s:%d (model %s, context %d tokens, %d slot%s, queue %d, %d API "
                    "key%s)\n", cfg->host, port, ctx->api.model_name, ctx->api.max_ctx, slots, slots == 1 ? "" : "s",
            cfg->max_queue, ctx->keys.n, ctx->keys.n == 1 ? "" : "s");
    if (ctx->keys.n == 0 && !loopback)
        fprintf(stderr, "warning: no API key is set and %s is reachable from other machines: anyone who can connect "
                        "can use the model; set --api-key-file or EDGEC_API_KEY\n", cfg->host);
}

static void serve_until_signal(srv_context *ctx) {
    struct timespec tick = {0, SRV_TICK_MS * 1000000L};
    while (!stop_requested) {
        nanosleep(&tick, NULL);
        srv_watch_tick(ctx->watch);
    }
}

int edgec_server_built_in(void) { return 1; }

int edgec_server_run(const edgec_server_config *cfg) {
    char err[512] = "";
    srv_context ctx;
    install_signals();
    unsigned max_connections = connection_limit();
    int loopback = 0, port = 0;
    int fd = listen_on(cfg->host, cfg->port, &loopback, &port, err, sizeof(err));
    struct MHD_Daemon *d = NULL;
    if (fd >= 0 && open_context(&ctx, cfg, err, sizeof(err)) == 0)
        d = srv_http_start(&ctx, fd, max_connections, (unsigned)cfg->timeout_s, err, sizeof(err));
    if (!d) {
        fprintf(stderr, "error: %s\n", err);
        if (fd >= 0) {
            close_context(&ctx);
            close(fd);
        }
        return 1;
    }
    announce(&ctx, cfg, port, loopback);
    serve_until_signal(&ctx);
    fprintf(stderr, "edgec server: stopping\n");
    MHD_quiesce_daemon(d);              /* no new connections */
    srv_engine_stop(ctx.engine);        /* every job ends and wakes its connection; new ones get 503 */
    struct timespec grace = {0, 200 * 1000000L};
    nanosleep(&grace, NULL);            /* let the last replies go out */
    MHD_stop_daemon(d);
    close(fd);
    close_context(&ctx);
    return 0;
}

#endif
