/* lut_bench.c - LUT (bit-plane table lookup) matmul vs dot-product matmul, one thread.
 *
 * Build and run (from the repository root), once per x86 path:
 *   gcc -std=c11 -O2 -march=native -Iruntime runtime/tools/lut_bench.c -o lut_bench -lm && ./lut_bench
 *   gcc -std=c11 -O2 -mavx2 -mfma -mf16c -Iruntime runtime/tools/lut_bench.c -o lut_bench_avx2 -lm && ./lut_bench_avx2
 * Options: --reps N (default 11) timed rounds per case; --quick (fewer shapes, for a smoke test);
 *          --once FMT KERNEL ROWS N: one matmul (n_tok 1) and exit, for instruction counts under
 *          qemu (KERNEL: lut, i16, rm = the row-major dot product of kernels.h, tables = build
 *          the tables only, none = set up only, the baseline to subtract), e.g. for NEON:
 *   aarch64-linux-gnu-gcc -std=c11 -O2 -static -march=armv8-a -mtune=cortex-a53 -Iruntime runtime/tools/lut_bench.c -o lut_bench_a53 -lm
 *   qemu-aarch64 -cpu cortex-a53 -singlestep -d exec,nochain ./lut_bench_a53 --once q2 lut 576 576 2>&1 >/dev/null | grep -c ^Trace
 *   (one line per executed instruction; minus the same count for KERNEL none)
 *
 * SmolLM2-135M shapes (576x576 q/o, 192x576 k/v, 1536x576 gate/up, 576x1536 down, 49152x576
 * classifier) x n_tok 1 and 32, per format: LUT (edgec_matmul_lut_*) against the dot product
 * on the same format: q4_0 / q4_1 -> the i16 kernels (edgec_matmul_i16_*), tq2 -> edgec_matmul_tq2,
 * q2 / q3 -> edgec_matmul_q2 / _q3 (row-major, kernels/lowbit.h; written elsewhere, not tuned
 * here).  Three settings:
 *   decode   n_tok 1, the same matrix again and again (cache-resident unless it is large)
 *   stream   n_tok 1, cycling through copies that fill 384 MiB (weights come from DRAM)
 *   batch32  n_tok 32 (a prompt), cache-resident
 * Each round runs every candidate of a case one after another (alternating, so a noisy
 * neighbour hits all of them alike); the table reports the median over rounds of ns per
 * matmul and weight bytes / time ("GB/s").  LUT times exclude the tables, which are built once
 * per activation vector and shared by every matrix that reads it; their cost is listed apart.
 * Weight values do not change the time of any kernel here, so the bytes are random (masked to
 * 0x3f so every fp16 scale is finite).
 */
#define _POSIX_C_SOURCE 199309L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kernels/kernels.h"
#include "kernels/lut.h"

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static uint64_t rng_state = 0x5eed5eed12345678ull;

static uint64_t rng_u64(void)
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* ---- what is timed ------------------------------------------------------------------------ */

enum { K_LUT, K_I16, K_RM, K_TABLES, K_NONE };

typedef struct {
    const char *fmt;
    int lut_id;
    int dot; /* the dot-product kernel compared with: K_I16 or K_RM (row-major) */
    int block_cols, block_bytes;
} bench_format;

static const bench_format formats[] = {
    {"q2", EDGEC_LUT_Q2, K_RM, 32, 12},
    {"q3", EDGEC_LUT_Q3, K_RM, 32, 16},
    {"tq2", EDGEC_LUT_TQ2, K_RM, 64, 18},
    {"q4_0", EDGEC_LUT_Q4_0, K_I16, 32, 18},
    {"q4_1", EDGEC_LUT_Q4_1, K_I16, 32, 20},
};

/* Bytes of a rows x n matrix in kernel k's layout. */
static size_t matrix_bytes(const bench_format *f, int k, int rows, int n)
{
    if (k == K_LUT) return edgec_lut_bytes(f->lut_id, rows, n);
    if (k == K_I16) return edgec_i16_bytes(f->lut_id == EDGEC_LUT_Q4_0 ? EDGEC_FMT_Q4_0 : EDGEC_FMT_Q4_1, rows, n);
    return (size_t)rows * (n / f->block_cols) * f->block_bytes; /* row-major */
}

static void run_kernel(const bench_format *f, int k, float *out, const uint8_t *w, int rows, int n, const void *tables,
                       const edgec_block_q8a *xq, int n_tok)
{
    if (k == K_I16) {
        if (f->lut_id == EDGEC_LUT_Q4_0) edgec_matmul_i16_q4_0(out, rows, w, 0, edgec_i16_groups(rows), rows, xq, n_tok, n);
        else edgec_matmul_i16_q4_1(out, rows, w, 0, edgec_i16_groups(rows), rows, xq, n_tok, n);
        return;
    }
    if (k == K_RM) {
        switch (f->lut_id) {
        case EDGEC_LUT_Q2: edgec_matmul_q2(out, rows, w, 0, rows, xq, n_tok, n); break;
        case EDGEC_LUT_Q3: edgec_matmul_q3(out, rows, w, 0, rows, xq, n_tok, n); break;
        case EDGEC_LUT_TQ2: edgec_matmul_tq2(out, rows, w, 0, rows, xq, n_tok, n); break;
        case EDGEC_LUT_Q4_0: edgec_matmul_q4_0(out, rows, w, 0, rows, xq, n_tok, n); break;
        default: edgec_matmul_q4_1(out, rows, w, 0, rows, xq, n_tok, n); break;
        }
        return;
    }
    if (k == K_TABLES) {
        edgec_lut_build_tables((void *)(uintptr_t)tables, xq, n_tok, n);
        return;
    }
    if (k == K_NONE) return;
    const int g1 = edgec_lut_groups(rows);
    switch (f->lut_id) {
    case EDGEC_LUT_Q2: edgec_matmul_lut_q2(out, rows, w, 0, g1, rows, tables, xq, n_tok, n); break;
    case EDGEC_LUT_Q3: edgec_matmul_lut_q3(out, rows, w, 0, g1, rows, tables, xq, n_tok, n); break;
    case EDGEC_LUT_TQ2: edgec_matmul_lut_tq2(out, rows, w, 0, g1, rows, tables, xq, n_tok, n); break;
    case EDGEC_LUT_Q4_0: edgec_matmul_lut_q4_0(out, rows, w, 0, g1, rows, tables, xq, n_tok, n); break;
    default: edgec_matmul_lut_q4_1(out, rows, w, 0, g1, rows, tables, xq, n_tok, n); break;
    }
}

/* ---- the bench ---------------------------------------------------------------------------- */

#define ARENA_BYTES ((size_t)384 << 20)
#define MAX_REPS 64

static uint8_t *arena;
static int reps = 11;

/* Random activations for n columns and n_tok tokens, their tables. */
static edgec_block_q8a *activations(int n, int n_tok, void **tables)
{
    edgec_block_q8a *xq = malloc(sizeof(edgec_block_q8a) * (n / 32) * n_tok);
    float *x = malloc(sizeof(float) * n);
    for (int t = 0; t < n_tok; t++) {
        for (int i = 0; i < n; i++) x[i] = (float)((int)(rng_u64() % 2001) - 1000) / 1000.0f;
        edgec_quantize_q8a(x, xq + (size_t)t * (n / 32), n);
    }
    *tables = aligned_alloc(64, (edgec_lut_table_bytes(n) * n_tok + 63) / 64 * 64);
    edgec_lut_build_tables(*tables, xq, n_tok, n);
    free(x);
    return xq;
}

/* One case: every candidate kernel, `reps` alternating rounds; prints a table row per kernel. */
static void bench_case(const bench_format *f, int rows, int n, int n_tok, int stream)
{
    const int kernels[2] = {K_LUT, f->dot}, nk = 2;
    void *tables;
    edgec_block_q8a *xq = activations(n, n_tok, &tables);
    float *out = malloc(sizeof(float) * rows * n_tok);
    double ns[2][MAX_REPS];
    size_t stride[2], copies[2];
    for (int k = 0; k < nk; k++) {
        stride[k] = (matrix_bytes(f, kernels[k], rows, n) + 4095) / 4096 * 4096;
        copies[k] = stream ? ARENA_BYTES / stride[k] : 1;
    }
    for (int rep = 0; rep < reps; rep++)
        for (int k = 0; k < nk; k++) {
            /* at least ~3 ms per round, and (streaming) a full sweep of the copies */
            double one = (double)matrix_bytes(f, kernels[k], rows, n) * n_tok;
            int iters = stream ? (int)copies[k] : (int)(3e7 / one) < 1 ? 1 : (int)(3e7 / one) > 2000 ? 2000 : (int)(3e7 / one);
            run_kernel(f, kernels[k], out, arena, rows, n, tables, xq, n_tok); /* warm */
            double t0 = now_ns();
            for (int it = 0; it < iters; it++)
                run_kernel(f, kernels[k], out, arena + (stream ? (size_t)it * stride[k] : 0), rows, n, tables, xq, n_tok);
            ns[k][rep] = (now_ns() - t0) / iters;
        }
    static const char *setting[] = {"decode", "stream", "batch32"};
    for (int k = 0; k < nk; k++) {
        double med = median(ns[k], reps);
        double gbs = (double)matrix_bytes(f, kernels[k], rows, n) / med;
        const char *name = kernels[k] == K_LUT ? "LUT" : kernels[k] == K_I16 ? "dot (i16)" : "dot (row-major)";
        const char *isa = kernels[k] == K_LUT ? EDGEC_LUT_ISA : kernels[k] == K_I16 ? EDGEC_I16_ISA
                        : f->lut_id == EDGEC_LUT_TQ2 ? EDGEC_TERNARY_ISA : f->lut_id <= EDGEC_LUT_Q3 ? EDGEC_LOWBIT_ISA : EDGEC_KERNELS_ISA;
        printf("| %-4s | %5dx%-4d | %-7s | %-19s | %-10s | %10.0f | %6.1f |", f->fmt, rows, n, setting[n_tok > 1 ? 2 : stream], name, isa, med, gbs);
        if (k == 1) printf(" %.2f |\n", median(ns[1], reps) / median(ns[0], reps)); /* dot time / LUT time */
        else printf("      |\n");
    }
    free(xq);
    free(tables);
    free(out);
}

/* Table building, per token: the cost every LUT matmul of that activation shares. */
static void bench_tables(int n, int n_tok)
{
    void *tables;
    edgec_block_q8a *xq = activations(n, n_tok, &tables);
    double ns[MAX_REPS];
    for (int rep = 0; rep < reps; rep++) {
        int iters = 20000 / n_tok;
        double t0 = now_ns();
        for (int it = 0; it < iters; it++) edgec_lut_build_tables(tables, xq, n_tok, n);
        ns[rep] = (now_ns() - t0) / iters / n_tok;
    }
    printf("| tables | n=%-5d | n_tok %-2d | %-10s | %8.0f ns per token | %6zu bytes per token |\n", n, n_tok, EDGEC_LUT_ISA, median(ns, reps),
           edgec_lut_table_bytes(n));
    free(xq);
    free(tables);
}

/* --once FMT KERNEL ROWS N: set up one matrix and one activation, run KERNEL once. */
static int run_once(char **argv)
{
    static const char *names[] = {"lut", "i16", "rm", "tables", "none"};
    const bench_format *f = NULL;
    int k = -1, rows = atoi(argv[2]), n = atoi(argv[3]);
    for (int i = 0; i < (int)(sizeof formats / sizeof formats[0]); i++)
        if (!strcmp(argv[0], formats[i].fmt)) f = &formats[i];
    for (int i = 0; i < 5; i++)
        if (!strcmp(argv[1], names[i])) k = i;
    if (!f || k < 0 || rows <= 0 || n <= 0 || n % f->block_cols || (k == K_I16 && f->dot != K_I16)) {
        fprintf(stderr, "--once: FMT q2|q3|tq2|q4_0|q4_1, KERNEL lut|i16|rm|tables|none (i16: q4_0, q4_1 only)\n");
        return 2;
    }
    size_t bytes = matrix_bytes(f, k == K_RM ? K_RM : k == K_I16 ? K_I16 : K_LUT, rows, n);
    uint8_t *w = malloc(bytes);
    for (size_t i = 0; i < bytes; i++) w[i] = (uint8_t)(rng_u64() & 0x3f);
    void *tables;
    edgec_block_q8a *xq = activations(n, 1, &tables);
    float *out = malloc(sizeof(float) * rows);
    run_kernel(f, k, out, w, rows, n, tables, xq, 1);
    printf("%s %s %dx%d done (%s)\n", f->fmt, names[k], rows, n, EDGEC_LUT_ISA);
    free(w); free(xq); free(tables); free(out);
    return 0;
}

int main(int argc, char **argv)
{
    int quick = 0;
    if (argc == 6 && !strcmp(argv[1], "--once")) return run_once(argv + 2);
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--quick")) quick = 1;
        else if (!strcmp(argv[i], "--reps") && i + 1 < argc) reps = atoi(argv[++i]);
        else {
            fprintf(stderr, "usage: lut_bench [--reps N] [--quick]\n");
            return 2;
        }
    }
    if (reps < 1 || reps > MAX_REPS) reps = 11;
    arena = aligned_alloc(4096, ARENA_BYTES);
    for (size_t i = 0; i < ARENA_BYTES / 8; i++) { /* any 16 bits of it is a finite fp16 below 2 */
        uint64_t v = rng_u64() & 0x3f3f3f3f3f3f3f3full;
        memcpy(arena + 8 * i, &v, 8);
    }
    static const int shapes[][2] = {{576, 576}, {192, 576}, {1536, 576}, {576, 1536}, {49152, 576}};
    const int n_shapes = quick ? 2 : 5;
    printf("EDGEC_LUT_ISA=%s EDGEC_I16_ISA=%s EDGEC_TERNARY_ISA=%s EDGEC_LOWBIT_ISA=%s, median of %d alternating rounds, one thread\n\n",
           EDGEC_LUT_ISA, EDGEC_I16_ISA, EDGEC_TERNARY_ISA, EDGEC_LOWBIT_ISA, reps);
    printf("| fmt  | rows x n   | setting | kernel              | ISA        | ns/matmul  | GB/s   | dot/LUT time |\n");
    printf("|------|------------|---------|---------------------|------------|-----------:|-------:|------:|\n");
    for (int setting = 0; setting < 3; setting++)
        for (int s = 0; s < n_shapes; s++)
            for (int fi = 0; fi < (int)(sizeof formats / sizeof formats[0]); fi++) {
                if (quick && setting == 1) continue;
                bench_case(&formats[fi], shapes[s][0], shapes[s][1], setting == 2 ? 32 : 1, setting == 1);
            }
    printf("\n");
    bench_tables(576, 1);
    bench_tables(1536, 1);
    bench_tables(576, 32);
    free(arena);
    return 0;
}
