/* test_blocks.h - scaffolding shared by the C kernel tests (tests/c/test_kernels*.c).
 *
 * Include it first (it sets _POSIX_C_SOURCE for clock_gettime), after defining TEST_RNG_SEED,
 * the fixed splitmix64 seed that gives the including test its own random sequence:
 *   #define TEST_RNG_SEED 0x5eed1234abcd0001ull
 *   #include "test_blocks.h"
 * Everything here is an independent reference (by definition, in double where it matters), never the
 * code under test.  Functions are static inline so a test that uses only some of them still builds
 * warning-free.
 */
#ifndef TEST_BLOCKS_H
#define TEST_BLOCKS_H

#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 199309L
#endif
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kernels/kernels.h"
#include "test_check.h"

#ifndef TEST_RNG_SEED
#error "define TEST_RNG_SEED (the test's fixed random seed) before including test_blocks.h"
#endif

/* ---- checks ---------------------------------------------------------------------------------- */

/* Counts one check (test_check.h's counters and summary); prints what failed. */
static inline int check(int ok, const char *fmt, ...)
{
    if (ok) {
        n_passed++;
        return 1;
    }
    n_failed++;
    va_list ap;
    va_start(ap, fmt);
    printf("FAIL: ");
    vprintf(fmt, ap);
    printf("\n");
    va_end(ap);
    return 0;
}

/* ---- random numbers (splitmix64, fixed seed) --------------------------------------------------- */

static uint64_t rng_state = TEST_RNG_SEED;

/* Next 64 random bits. */
static inline uint64_t rng_u64(void)
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* Uniform in [-1, 1). */
static inline float rng_float(void) { return (float)((double)(rng_u64() >> 11) * (2.0 / 9007199254740992.0) - 1.0); }

/* Random values whose scale varies per 32-block (as real weights and activations do). */
static inline void fill_random(float *x, int n)
{
    float scale = 1.0f;
    for (int i = 0; i < n; i++) {
        if (i % 32 == 0) scale = ldexpf(1.0f, (int)(rng_u64() % 9) - 6);
        x[i] = rng_float() * scale;
    }
}

/* ---- fp16 by definition ------------------------------------------------------------------------ */

/* Value of an fp16 bit pattern by its definition (NaN for NaNs). */
static inline double ref_half(uint16_t h)
{
    int sign = h >> 15, exp = (h >> 10) & 31, man = h & 1023;
    double v;
    if (exp == 31) v = man ? NAN : INFINITY;
    else if (exp == 0) v = ldexp(man, -24);
    else v = ldexp(1024 + man, exp - 25);
    return sign ? -v : v;
}

/* Nearest fp16 to f, ties to even, by binary search over the ordered positive halves. */
static inline uint16_t ref_to_half(float f)
{
    uint16_t sign = signbit(f) ? 0x8000 : 0;
    double a = fabs((double)f);
    if (isnan(f)) return 0x7e00;
    if (a >= 65520.0) return sign | 0x7c00; /* 65504 + half an ulp rounds to inf */
    int lo = 0, hi = 0x7bff;                 /* largest h with ref_half(h) <= a */
    while (lo < hi) {
        int mid = (lo + hi + 1) / 2;
        if (ref_half((uint16_t)mid) <= a) lo = mid;
        else hi = mid - 1;
    }
    double below = ref_half((uint16_t)lo), above = ref_half((uint16_t)(lo + 1));
    int h = lo;
    if (a - below > above - a || (a - below == above - a && (lo & 1))) h = lo + 1;
    return (uint16_t)(sign | h);
}

/* A random normal fp16 scale: +-(1 + m/1024) * 2^e, e in [-12, -2]. */
static inline uint16_t random_half_scale(void)
{
    uint16_t e = (uint16_t)(15 - 12 + rng_u64() % 11), m = (uint16_t)(rng_u64() % 1024);
    return (uint16_t)((rng_u64() % 2 ? 0x8000 : 0) | e << 10 | m);
}

/* ---- little-endian bytes (as GGUF) ------------------------------------------------------------- */

/* Reads a little-endian uint16. */
static inline uint16_t rd16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }

/* Writes a little-endian uint16. */
static inline void wr16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

/* ---- GGUF q8_0 / q4_0 / q4_1 by definition ----------------------------------------------------- */

/* The GGUF formats of 32-weight blocks that the tests quantize with their own encoders. */
typedef enum { GGUF_Q8_0, GGUF_Q4_0, GGUF_Q4_1 } gguf_format;

/* Bytes per 32-weight block: fp16 d (and q4_1's fp16 m), then the codes. */
static inline int gguf_block_bytes(gguf_format f) { return f == GGUF_Q8_0 ? 34 : f == GGUF_Q4_0 ? 18 : 20; }

/* Encodes one row of n floats into GGUF blocks (ggml-style reference quantizers). */
static inline void ref_encode_gguf_row(gguf_format f, const float *x, uint8_t *dst, int n)
{
    for (int b = 0; b < n / 32; b++, x += 32, dst += gguf_block_bytes(f)) {
        float amax = 0, vmax = 0, mn = x[0], mx = x[0];
        for (int j = 0; j < 32; j++) {
            if (fabsf(x[j]) > amax) { amax = fabsf(x[j]); vmax = x[j]; }
            mn = x[j] < mn ? x[j] : mn;
            mx = x[j] > mx ? x[j] : mx;
        }
        if (f == GGUF_Q8_0) { /* d = amax/127, q = round(x/d) */
            float d = amax / 127, id = d ? 1 / d : 0;
            wr16(dst, ref_to_half(d));
            for (int j = 0; j < 32; j++) dst[2 + j] = (uint8_t)(int8_t)lrintf(x[j] * id);
        } else if (f == GGUF_Q4_0) { /* d = (value of max |x|)/-8, q = x/d + 8 in [0, 15] */
            float d = vmax / -8, id = d ? 1 / d : 0;
            wr16(dst, ref_to_half(d));
            for (int j = 0; j < 16; j++) {
                int q0 = (int)(x[j] * id + 8.5f), q1 = (int)(x[j + 16] * id + 8.5f);
                dst[2 + j] = (uint8_t)((q0 > 15 ? 15 : q0) | (q1 > 15 ? 15 : q1) << 4);
            }
        } else { /* q4_1: d = (max-min)/15, m = min, q = (x-m)/d in [0, 15] */
            float d = (mx - mn) / 15, id = d ? 1 / d : 0;
            wr16(dst, ref_to_half(d));
            wr16(dst + 2, ref_to_half(mn));
            for (int j = 0; j < 16; j++) {
                int q0 = (int)((x[j] - mn) * id + 0.5f), q1 = (int)((x[j + 16] - mn) * id + 0.5f);
                dst[4 + j] = (uint8_t)((q0 > 15 ? 15 : q0) | (q1 > 15 ? 15 : q1) << 4);
            }
        }
    }
}

/* Code of column j of a GGUF row: q8_0's int8, a q4 format's unsigned nibble. */
static inline int ref_gguf_code(gguf_format f, const uint8_t *row, int j)
{
    const uint8_t *blk = row + (size_t)(j / 32) * gguf_block_bytes(f);
    const int k = j % 32;
    if (f == GGUF_Q8_0) return (int8_t)blk[2 + k];
    const uint8_t *qs = blk + (f == GGUF_Q4_0 ? 2 : 4);
    return k < 16 ? qs[k] & 15 : qs[k - 16] >> 4;
}

/* Weight j of a GGUF row, by the format's definition. */
static inline double ref_gguf_weight(gguf_format f, const uint8_t *row, int j)
{
    const uint8_t *blk = row + (size_t)(j / 32) * gguf_block_bytes(f);
    const double d = ref_half(rd16(blk));
    const int q = ref_gguf_code(f, row, j);
    return f == GGUF_Q8_0 ? d * q : f == GGUF_Q4_0 ? d * (q - 8) : d * q + ref_half(rd16(blk + 2));
}

/* ---- activations -------------------------------------------------------------------------------- */

/* q8a blocks of x by the definition: d = amax/127, q = x*(1/d) rounded half away, s = d * sum(q). */
static inline void ref_quantize_q8a(const float *x, edgec_block_q8a *y, int n)
{
    for (int b = 0; b < n / 32; b++) {
        float amax = 0;
        for (int j = 0; j < 32; j++) amax = fmaxf(amax, fabsf(x[32 * b + j]));
        float d = amax / 127.0f, id = d != 0 ? 1.0f / d : 0.0f;
        int sum = 0;
        for (int j = 0; j < 32; j++) {
            double v = (double)(x[32 * b + j] * id); /* the float product, rounded half away in double */
            int q = (int)(v < 0 ? -floor(-v + 0.5) : floor(v + 0.5));
            y[b].qs[j] = (int8_t)q;
            sum += q;
        }
        y[b].d = d;
        y[b].s = d * (float)sum;
    }
}

/* n_tok rows of n random activations in xf (fill_random) and their q8a blocks in xq (ref_quantize_q8a). */
static inline void random_activations(float *xf, edgec_block_q8a *xq, int n, int n_tok)
{
    for (int t = 0; t < n_tok; t++) {
        fill_random(xf + (size_t)t * n, n);
        ref_quantize_q8a(xf + (size_t)t * n, xq + (size_t)t * (n / 32), n);
    }
}

/* q8a blocks with d = 1 and every qs at +-127 (the int16 edge): token 0 all +127, token 1 all -127,
 * later tokens alternating in pairs of columns. */
static inline void extreme_activations(edgec_block_q8a *xq, int n_tok, int nb)
{
    for (int t = 0; t < n_tok; t++)
        for (int b = 0; b < nb; b++) {
            edgec_block_q8a *x = xq + t * nb + b;
            int sum = 0;
            for (int j = 0; j < 32; j++) {
                x->qs[j] = (int8_t)(t == 0 ? 127 : t == 1 ? -127 : ((j + t) / 2) % 2 ? 127 : -127);
                sum += x->qs[j];
            }
            x->d = 1.0f;
            x->s = (float)sum;
        }
}

/* One token's nb q8a blocks with d = 1 and every qs at +-127 (the int16 edge): -127 where (j + b) % period == 0. */
static inline void plus_minus_127_activations(edgec_block_q8a *xq, int nb, int period)
{
    for (int b = 0; b < nb; b++) {
        int sum = 0;
        for (int j = 0; j < 32; j++) {
            xq[b].qs[j] = (int8_t)((j + b) % period == 0 ? -127 : 127);
            sum += xq[b].qs[j];
        }
        xq[b].d = 1.0f;
        xq[b].s = (float)sum;
    }
}

/* Double-precision reference out[t][r] = sum_j wd[r][j] * d*qs of xq, and mag = sum of |terms| (for tolerances). */
static inline void ref_matmul_q8a(const double *wd, const edgec_block_q8a *xq, int rows, int n, int n_tok, double *ref, double *mag)
{
    const int nb = n / 32;
    for (int t = 0; t < n_tok; t++)
        for (int r = 0; r < rows; r++) {
            double s = 0, a = 0;
            for (int j = 0; j < n; j++) {
                const edgec_block_q8a *xb = &xq[(size_t)t * nb + j / 32];
                double term = wd[(size_t)r * n + j] * ((double)xb->d * xb->qs[j % 32]);
                s += term;
                a += fabs(term);
            }
            ref[(size_t)t * rows + r] = s;
            mag[(size_t)t * rows + r] = a;
        }
}

/* What matmul outputs start as, so writes outside a call's rows show. */
#define POISON -12345.0f

/* Errors of a matmul call that owns rows [r0, r1) of out[t * ldo + r]: values off the reference. */
typedef struct {
    int bad, bad_scalar, stray; /* off by more than 1e-5 * mag (out, out_scalar); POISON overwritten outside [r0, r1) */
    double worst;               /* largest |out - ref| / tolerance */
} range_errors;

/* Compares out and out_scalar with ref (tolerance 1e-5 * mag, ref/mag as ref_matmul_q8a writes them). */
static inline range_errors compare_rows(const float *out, const float *out_scalar, int ldo, const double *ref, const double *mag,
                                        int rows, int r0, int r1, int n_tok)
{
    range_errors e = {0, 0, 0, 0};
    for (int t = 0; t < n_tok; t++)
        for (int r = 0; r < ldo; r++) {
            const float o = out[(size_t)t * ldo + r], os = out_scalar[(size_t)t * ldo + r];
            if (r < r0 || r >= r1) { /* nothing outside [r0, r1) may be written */
                e.stray += o != POISON || os != POISON;
                continue;
            }
            const double want = ref[(size_t)t * rows + r], tol = 1e-5 * mag[(size_t)t * rows + r] + 1e-30;
            e.worst = fmax(e.worst, fabs(o - want) / tol);
            e.bad += !(fabs(o - want) <= tol);
            e.bad_scalar += !(fabs(os - want) <= tol);
        }
    return e;
}

/* Outputs in rows [r0, r1) where a and b differ by more than 1e-5 * mag (exact: in any bit). */
static inline int count_differing(const float *a, const float *b, int ldo, const double *mag, int rows, int r0, int r1, int n_tok, int exact)
{
    int differ = 0;
    for (int t = 0; t < n_tok; t++)
        for (int r = r0; r < r1; r++) {
            const size_t i = (size_t)t * ldo + r;
            differ += exact ? memcmp(&a[i], &b[i], sizeof(float)) != 0 : !(fabs(a[i] - b[i]) <= 1e-5 * mag[(size_t)t * rows + r] + 1e-30);
        }
    return differ;
}

/* A row-major kernel pair and its row lookup, as kernels.h declares them. */
typedef void (*rowmajor_matmul_fn)(float *, int, const void *, int, int, const edgec_block_q8a *, int, int);
typedef void (*rowmajor_get_row_fn)(float *, const void *, int, int);

/* A row-major weight format under test: its kernels, and the test's own random weights of it. */
typedef struct rowmajor_format {
    const char *name;
    int block_weights, block_bytes;
    int max_code;     /* the largest code the test's encoder writes */
    rowmajor_matmul_fn mm, mm_scalar;
    rowmajor_get_row_fn get_row;
    /* rows x n random weights: their bytes in w (the test's own encoder), their values in wd (its own decoder) */
    void (*make_weights)(const struct rowmajor_format *f, uint8_t *w, double *wd, int rows, int n);
} rowmajor_format;

static inline size_t rowmajor_row_bytes(const rowmajor_format *f, int n) { return (size_t)(n / f->block_weights) * f->block_bytes; }

/* A 1-row matmul of n weights w (scales 1), dispatched and scalar, must give the integer want exactly. */
static inline void check_exact_row(const rowmajor_format *f, const char *isa, const void *w, const edgec_block_q8a *xq, int n, long want)
{
    float out = 0, out_scalar = 0;
    f->mm(&out, 1, w, 0, 1, xq, 1, n);
    f->mm_scalar(&out_scalar, 1, w, 0, 1, xq, 1, n);
    check(out == (float)want && out_scalar == (float)want, "%s exact sum: got %g (%s), %g (scalar), want %ld", f->name, out, isa, out_scalar, want);
}

/* The row-major kernel check the format tests share: rows x n random weights of f (at an odd address: the
 * kernels must not assume alignment), random activations; matmul and its scalar twin over three row
 * ranges (all, inner, an odd thread-like slice) against the double reference, then get_row against the
 * weights exactly.  isa names the SIMD path in messages. */
static inline void check_rowmajor_kernels(const rowmajor_format *f, const char *isa, int n, int rows, int n_tok)
{
    const int ldo = rows + 5, nb = n / 32;
    uint8_t *wbuf = malloc(rows * rowmajor_row_bytes(f, n) + 8), *w = wbuf + 3;
    double *wd = malloc(sizeof(double) * (size_t)rows * n);
    float *xf = malloc(sizeof(float) * (size_t)n * n_tok);
    edgec_block_q8a *xq = malloc(sizeof(edgec_block_q8a) * (size_t)nb * n_tok);
    double *ref = malloc(sizeof(double) * (size_t)rows * n_tok), *mag = malloc(sizeof(double) * (size_t)rows * n_tok);
    float *out = malloc(sizeof(float) * (size_t)ldo * n_tok), *out_scalar = malloc(sizeof(float) * (size_t)ldo * n_tok);
    float *row = malloc(sizeof(float) * (size_t)n);

    f->make_weights(f, w, wd, rows, n);
    random_activations(xf, xq, n, n_tok);
    ref_matmul_q8a(wd, xq, rows, n, n_tok, ref, mag);
    int ranges[3][2] = {{0, rows}, {1, rows - 1}, {3, rows > 9 ? 9 : rows}};
    for (int k = 0; k < 3; k++) {
        int r0 = ranges[k][0], r1 = ranges[k][1];
        if (r0 >= r1) continue;
        for (size_t i = 0; i < (size_t)ldo * n_tok; i++) out[i] = out_scalar[i] = POISON;
        f->mm(out, ldo, w, r0, r1, xq, n_tok, n);
        f->mm_scalar(out_scalar, ldo, w, r0, r1, xq, n_tok, n);
        range_errors e = compare_rows(out, out_scalar, ldo, ref, mag, rows, r0, r1, n_tok);
        check(!e.bad && !e.bad_scalar && !e.stray, "matmul %s n=%d rows=%d n_tok=%d r=[%d,%d): %d wrong (%s), %d wrong (scalar), %d stray writes, worst err/tol %.3g",
              f->name, n, rows, n_tok, r0, r1, e.bad, isa, e.bad_scalar, e.stray, e.worst);
    }

    int bad_rows = 0;   /* d * code is exact in float */
    for (int r = 0; r < rows; r++) {
        f->get_row(row, w, r, n);
        for (int j = 0; j < n; j++) bad_rows += row[j] != (float)wd[(size_t)r * n + j];
    }
    check(!bad_rows, "get_row %s n=%d rows=%d: %d values differ from the reference decoding", f->name, n, rows, bad_rows);
    free(wbuf); free(wd); free(xf); free(xq); free(ref); free(mag); free(out); free(out_scalar); free(row);
}

/* ---- time and files ----------------------------------------------------------------------------- */

/* Monotonic seconds, for the --bench modes. */
static inline double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Repetitions for a benchmark of rows x n weights and n_tok tokens: about 4e8 multiply-adds, at least 20. */
static inline int bench_reps(int rows, int n, int n_tok) { return (int)(4e8 / ((double)rows * n * n_tok)) + 20; }

/* The fastest of reps runs of call(ctx), in seconds: the machine may be shared, and a preempted run is just slower. */
static inline double best_time(void (*call)(const void *), const void *ctx, int reps)
{
    double best = 1e30;
    for (int i = 0; i < reps; i++) {
        const double t0 = now_s();
        call(ctx);
        const double dt = now_s() - t0;
        best = dt < best ? dt : best;
    }
    return best;
}

/* One row-major matmul call, for best_time. */
typedef struct {
    rowmajor_matmul_fn mm;
    float *out;
    const void *w;
    const edgec_block_q8a *xq;
    int rows, n_tok, n;
} rowmajor_call;

static inline void run_rowmajor_call(const void *ctx)
{
    const rowmajor_call *c = ctx;
    c->mm(c->out, c->rows, c->w, 0, c->rows, c->xq, c->n_tok, c->n);
}

/* Times mm on rows x n weights w (row_bytes each) for n_tok random tokens; prints weight GB/s and the MAC rate. */
static inline void bench_rowmajor(const char *name, const char *isa, rowmajor_matmul_fn mm, const void *w, size_t row_bytes, int rows, int n, int n_tok)
{
    float *x = malloc(sizeof(float) * (size_t)n * n_tok), *out = malloc(sizeof(float) * (size_t)rows * n_tok);
    edgec_block_q8a *xq = malloc(sizeof(edgec_block_q8a) * (size_t)(n / 32) * n_tok);
    fill_random(x, n * n_tok);
    for (int t = 0; t < n_tok; t++) edgec_quantize_q8a(x + (size_t)t * n, xq + (size_t)t * (n / 32), n);
    const rowmajor_call call = {mm, out, w, xq, rows, n_tok, n};
    const double best = best_time(run_rowmajor_call, &call, bench_reps(rows, n, n_tok));
    printf("%-9s %5d x %-5d n_tok=%-2d %9.1f us  %7.2f GB/s  %7.2f Gweights*tok/s (%s)\n", name, rows, n, n_tok, best * 1e6,
           (double)rows * row_bytes / best / 1e9, (double)rows * n * n_tok / best / 1e9, isa);
    free(x); free(out); free(xq);
}

/* rows x n random weights of f times n_tok tokens, timed (bench_rowmajor). */
static inline void bench_rowmajor_format(const rowmajor_format *f, const char *isa, int rows, int n, int n_tok)
{
    uint8_t *w = malloc(rows * rowmajor_row_bytes(f, n));
    double *wd = malloc(sizeof(double) * (size_t)rows * n);
    f->make_weights(f, w, wd, rows, n);
    bench_rowmajor(f->name, isa, f->mm, w, rowmajor_row_bytes(f, n), rows, n, n_tok);
    free(w); free(wd);
}

/* Reads exactly `bytes` bytes of the file at path into buf; 1 on success. */
static inline int read_file(const char *path, void *buf, size_t bytes)
{
    FILE *f = fopen(path, "rb");
    int ok = f && fread(buf, 1, bytes, f) == bytes;
    if (f) fclose(f);
    return ok;
}

/* Writes `bytes` bytes of buf to the file at path; 1 on success (the close included). */
static inline int write_file(const char *path, const void *buf, size_t bytes)
{
    FILE *f = fopen(path, "wb");
    int ok = f && fwrite(buf, 1, bytes, f) == bytes;
    if (f) ok = !fclose(f) && ok;
    return ok;
}

#endif /* TEST_BLOCKS_H */
