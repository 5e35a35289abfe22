/* test_kernels.c - checks runtime/core/kernels against independent double-precision references.
 *
 * Build (from the repository root), e.g.:
 *   gcc -std=c11 -O2 -march=native -Wall -Wextra -Werror -Iruntime/core tests/c/test_kernels.c -o test_kernels -lm
 * Run: ./test_kernels            (prints "N passed, M failed", exit status 1 on any failure)
 *      ./test_kernels --bench    (times a 1536x576 q4_1 matvec and reports GB/s)
 *
 * Weights are random (fixed seed) and encoded by this file's own simple quantizers; the
 * references decode the bytes with this file's own fp16 decoder, so nothing checked here
 * is computed by the code under test.
 */
#define TEST_RNG_SEED 0x5eed1234abcd0001ull
#include "test_blocks.h"

/* ---- bf16 by definition ------------------------------------------------------------------ */

static uint16_t ref_to_bf16(float f) /* round to nearest even on the dropped 16 bits */
{
    uint32_t u;
    memcpy(&u, &f, 4);
    return (uint16_t)((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
}

static double ref_bf16(uint16_t b)
{
    uint32_t u = (uint32_t)b << 16;
    float f;
    memcpy(&f, &u, 4);
    return f;
}

/* ---- weight formats: this test's encoders and decoders ---------------------------------- */

typedef void (*matmul_q_fn)(float *, int, const void *, int, int, const edgec_block_q8a *, int, int);
typedef void (*matmul_f_fn)(float *, int, const void *, int, int, const float *, int, int, int);
typedef void (*get_row_fn)(float *, const void *, int, int);

typedef struct {
    const char *name;
    int quantized;     /* 1: 32-blocks with q8a activations, 0: float weights */
    int block_bytes;   /* bytes per 32 weights (quantized) or per weight (float) */
    gguf_format gguf;  /* quantized: which (test_blocks.h encodes and decodes it) */
    matmul_q_fn mq, mq_scalar;
    matmul_f_fn mf, mf_scalar;
    get_row_fn get_row;
} format;

static const format formats[] = {
    {"q8_0", 1, 34, GGUF_Q8_0, edgec_matmul_q8_0, edgec_scalar_matmul_q8_0, NULL, NULL, edgec_get_row_q8_0},
    {"q4_0", 1, 18, GGUF_Q4_0, edgec_matmul_q4_0, edgec_scalar_matmul_q4_0, NULL, NULL, edgec_get_row_q4_0},
    {"q4_1", 1, 20, GGUF_Q4_1, edgec_matmul_q4_1, edgec_scalar_matmul_q4_1, NULL, NULL, edgec_get_row_q4_1},
    {"f32", 0, 4, 0, NULL, NULL, edgec_matmul_f32, edgec_scalar_matmul_f32, edgec_get_row_f32},
    {"f16", 0, 2, 0, NULL, NULL, edgec_matmul_f16, edgec_scalar_matmul_f16, edgec_get_row_f16},
    {"bf16", 0, 2, 0, NULL, NULL, edgec_matmul_bf16, edgec_scalar_matmul_bf16, edgec_get_row_bf16},
};
#define N_FORMATS (int)(sizeof formats / sizeof formats[0])

static size_t row_bytes(const format *f, int n) { return f->quantized ? (size_t)n / 32 * f->block_bytes : (size_t)n * f->block_bytes; }

/* Encodes one row of n floats into dst in format f (quantized: ggml-style reference quantizers). */
static void encode_row(const format *f, const float *x, uint8_t *dst, int n)
{
    if (f->quantized) {
        ref_encode_gguf_row(f->gguf, x, dst, n);
        return;
    }
    for (int j = 0; j < n; j++) {
        if (!strcmp(f->name, "f32")) memcpy(dst + 4 * j, &x[j], 4);
        else wr16(dst + 2 * j, !strcmp(f->name, "f16") ? ref_to_half(x[j]) : ref_to_bf16(x[j]));
    }
}

/* Decodes one row from its bytes by the format's definition. */
static void decode_row(const format *f, const uint8_t *src, double *w, int n)
{
    for (int j = 0; j < n; j++) {
        if (f->quantized) w[j] = ref_gguf_weight(f->gguf, src, j);
        else if (!strcmp(f->name, "f32")) { float v; memcpy(&v, src + 4 * j, 4); w[j] = v; }
        else if (!strcmp(f->name, "f16")) w[j] = ref_half(rd16(src + 2 * j));
        else w[j] = ref_bf16(rd16(src + 2 * j));
    }
}

static int q8a_equal(const edgec_block_q8a *a, const edgec_block_q8a *b, int nb)
{
    for (int i = 0; i < nb; i++)
        if (memcmp(&a[i].d, &b[i].d, 4) || memcmp(&a[i].s, &b[i].s, 4) || memcmp(a[i].qs, b[i].qs, 32)) return 0;
    return 1;
}

static void test_quantize_q8a(void)
{
    enum { N = 1536 };
    static float x[N];
    static edgec_block_q8a got[N / 32], want[N / 32], scalar[N / 32];
    for (int rep = 0; rep < 20; rep++) {
        fill_random(x, N);
        if (rep == 1) memset(x, 0, 64 * sizeof(float)); /* all-zero blocks: d = 0 */
        if (rep == 2) /* exact halves of the step: x = (k + 0.5) * amax/127 */
            for (int j = 0; j < N; j++) x[j] = (j % 32 == 0) ? 127.0f : (float)((int)(rng_u64() % 253) - 126) + 0.5f;
        edgec_quantize_q8a(x, got, N);
        ref_quantize_q8a(x, want, N);
        edgec_scalar_quantize_q8a(x, scalar, N);
        check(q8a_equal(got, want, N / 32), "quantize_q8a (%s) differs from the reference, rep %d", EDGEC_KERNELS_ISA, rep);
        check(q8a_equal(scalar, want, N / 32), "scalar quantize_q8a differs from the reference, rep %d", rep);
    }
}

/* ---- matmul ------------------------------------------------------------------------------ */

/* Runs one format x shape: every sub-range of rows, all tokens, against the double reference. */
static void test_matmul_shape(const format *f, int n, int rows, int n_tok)
{
    const size_t rb = row_bytes(f, n);
    const int ldx = n + 3, ldo = rows + 5, nb = n / 32;
    uint8_t *wbuf = malloc(rows * rb + 8);
    uint8_t *w = wbuf + 3;                      /* rows at odd addresses: kernels must not assume alignment */
    float *xf = malloc(sizeof(float) * (size_t)ldx * n_tok);
    float *wf = malloc(sizeof(float) * (size_t)n);
    double *wd = malloc(sizeof(double) * (size_t)rows * n);
    double *ref = malloc(sizeof(double) * (size_t)rows * n_tok), *mag = malloc(sizeof(double) * (size_t)rows * n_tok);
    double *ref_float = malloc(sizeof(double) * (size_t)rows * n_tok);
    edgec_block_q8a *xq = malloc(sizeof(edgec_block_q8a) * (size_t)(nb ? nb : 1) * n_tok);
    float *out = malloc(sizeof(float) * (size_t)ldo * n_tok), *out_scalar = malloc(sizeof(float) * (size_t)ldo * n_tok);
    float *row = malloc(sizeof(float) * (size_t)n);

    for (int r = 0; r < rows; r++) {
        fill_random(wf, n);
        encode_row(f, wf, w + r * rb, n);
        decode_row(f, w + r * rb, wd + (size_t)r * n, n);
    }
    for (int t = 0; t < n_tok; t++) {
        fill_random(xf + (size_t)t * ldx, n);
        if (f->quantized) edgec_quantize_q8a(xf + (size_t)t * ldx, xq + (size_t)t * nb, n);
    }
    /* references: exact weights x the activations the kernel sees (q8a dequantized), and x raw floats */
    for (int t = 0; t < n_tok; t++)
        for (int r = 0; r < rows; r++) {
            double s = 0, a = 0, sf = 0;
            for (int j = 0; j < n; j++) {
                double xv = f->quantized ? (double)xq[t * nb + j / 32].d * xq[t * nb + j / 32].qs[j % 32] : xf[(size_t)t * ldx + j];
                double term = wd[(size_t)r * n + j] * xv;
                s += term;
                a += fabs(term);
                sf += wd[(size_t)r * n + j] * xf[(size_t)t * ldx + j];
            }
            ref[t * rows + r] = s;
            mag[t * rows + r] = a;
            ref_float[t * rows + r] = sf;
        }

    /* row ranges: all, an inner range, and an odd-offset range (as a thread's slice would be) */
    int ranges[3][2] = {{0, rows}, {1, rows - 1}, {5, 16}};
    for (int k = 0; k < 3; k++) {
        int r0 = ranges[k][0], r1 = ranges[k][1];
        if (r1 > rows || r0 >= r1) continue;
        for (size_t i = 0; i < (size_t)ldo * n_tok; i++) out[i] = out_scalar[i] = POISON;
        if (f->quantized) {
            f->mq(out, ldo, w, r0, r1, xq, n_tok, n);
            f->mq_scalar(out_scalar, ldo, w, r0, r1, xq, n_tok, n);
        } else {
            f->mf(out, ldo, w, r0, r1, xf, ldx, n_tok, n);
            f->mf_scalar(out_scalar, ldo, w, r0, r1, xf, ldx, n_tok, n);
        }
        range_errors e = compare_rows(out, out_scalar, ldo, ref, mag, rows, r0, r1, n_tok);
        int bad_float = 0; /* sanity: activation quantization costs well under 2% of the sum of |terms| */
        for (int t = 0; t < n_tok; t++)
            for (int r = r0; r < r1; r++) {
                double mag_float = 0;
                for (int j = 0; j < n; j++) mag_float += fabs(wd[(size_t)r * n + j] * xf[(size_t)t * ldx + j]);
                bad_float += !(fabs(out[t * ldo + r] - ref_float[t * rows + r]) <= 0.02 * mag_float + 1e-30);
            }
        check(!e.bad && !e.bad_scalar && !e.stray, "matmul %s n=%d rows=%d n_tok=%d r=[%d,%d): %d wrong (%s), %d wrong (scalar), %d stray writes, worst err/tol %.3g",
              f->name, n, rows, n_tok, r0, r1, e.bad, EDGEC_KERNELS_ISA, e.bad_scalar, e.stray, e.worst);
        check(!bad_float, "matmul %s n=%d rows=%d n_tok=%d: %d results off the float dot by more than 2%%", f->name, n, rows, n_tok, bad_float);
    }

    /* get_row (embedding lookup) vs the reference decoder, exactly */
    int bad_rows = 0;
    for (int r = 0; r < rows; r++) {
        f->get_row(row, w, r, n);
        for (int j = 0; j < n; j++) bad_rows += row[j] != (float)wd[(size_t)r * n + j];
    }
    check(!bad_rows, "get_row %s n=%d rows=%d: %d values differ from the reference decoding", f->name, n, rows, bad_rows);

    free(wbuf); free(xf); free(wf); free(wd); free(ref); free(mag); free(ref_float); free(xq); free(out); free(out_scalar); free(row);
}

static void test_matmul(void)
{
    /* 1088 = 34 blocks: the SIMD paths' last 4-block chunk is partial and in a second slab of 8 chunks */
    static const int ns_q[] = {32, 64, 576, 1088, 1536}, ns_f[] = {1, 7, 100, 32, 64, 576, 1536};
    static const int rows[] = {1, 3, 17, 192}, toks[] = {1, 2, 5, 11, 32};
    for (int fi = 0; fi < N_FORMATS; fi++) {
        const format *f = &formats[fi];
        const int *ns = f->quantized ? ns_q : ns_f;
        int n_ns = f->quantized ? 5 : 7;
        for (int a = 0; a < n_ns; a++)
            for (int b = 0; b < 4; b++)
                for (int c = 0; c < 5; c++) test_matmul_shape(f, ns[a], rows[b], toks[c]);
    }
}

/* Extreme q8_0 bytes: qs = -128 and +127 against activations of +-127 (int16 saturation edge). */
static void test_q8_0_extremes(void)
{
    enum { N = 64 };
    uint8_t w[2 * 34];
    edgec_block_q8a xq[2];
    for (int b = 0; b < 2; b++) {
        wr16(w + 34 * b, ref_to_half(0.5f));
        xq[b].d = 0.25f;
        int sum = 0;
        for (int j = 0; j < 32; j++) {
            w[34 * b + 2 + j] = (uint8_t)(j % 2 ? 0x80 : 0x7f); /* -128, 127 */
            xq[b].qs[j] = (int8_t)(j % 4 < 2 ? -127 : 127);
            sum += xq[b].qs[j];
        }
        xq[b].s = xq[b].d * (float)sum;
    }
    double want = 0;
    for (int b = 0; b < 2; b++)
        for (int j = 0; j < 32; j++) want += 0.5 * (int8_t)w[34 * b + 2 + j] * 0.25 * xq[b].qs[j];
    float out = 0;
    edgec_matmul_q8_0(&out, 1, w, 0, 1, xq, 1, N);
    check(out == (float)want, "q8_0 extreme bytes: got %g, want %g", out, want);
}

/* ---- fp16 conversion ----------------------------------------------------------------------- */

static void test_fp16(void)
{
    int bad_decode = 0, bad_trip = 0, bad_nan = 0;
    for (uint32_t h = 0; h < 65536; h++) {
        double want = ref_half((uint16_t)h);
        float a = edgec_fp16_to_fp32((uint16_t)h), c = edgec_fp16_to_fp32_c((uint16_t)h);
        if (isnan(want)) {
            bad_nan += !isnan(a) || !isnan(c) || (edgec_fp32_to_fp16(a) & 0x7fff) <= 0x7c00 || (edgec_fp32_to_fp16_c(c) & 0x7fff) <= 0x7c00;
            continue;
        }
        bad_decode += a != want || c != want;
        bad_trip += edgec_fp32_to_fp16(a) != h || edgec_fp32_to_fp16_c(c) != h;
    }
    check(!bad_decode, "fp16 -> fp32: %d of 65536 patterns decode wrongly", bad_decode);
    check(!bad_trip, "fp16 -> fp32 -> fp16: %d patterns do not round-trip", bad_trip);
    check(!bad_nan, "fp16 NaN: %d patterns lose NaN-ness", bad_nan);

    /* fp32 -> fp16 rounding: every midpoint between neighbours (ties to even) and random floats */
    int bad_round = 0;
    for (uint32_t h = 0; h < 0x7bff; h++) {
        float mid = (float)((ref_half((uint16_t)h) + ref_half((uint16_t)(h + 1))) / 2);
        for (int s = 0; s < 2; s++) {
            float v = s ? -mid : mid;
            uint16_t want = ref_to_half(v);
            bad_round += edgec_fp32_to_fp16(v) != want || edgec_fp32_to_fp16_c(v) != want;
        }
    }
    for (int i = 0; i < 200000; i++) {
        uint32_t u = (uint32_t)rng_u64();
        if (i % 2) u = (u & 0x807fffffu) | ((uint32_t)(96 + rng_u64() % 48) << 23); /* the fp16 range and just around it */
        float v;
        memcpy(&v, &u, 4);
        if (isnan(v)) continue;
        uint16_t want = ref_to_half(v);
        bad_round += edgec_fp32_to_fp16(v) != want || edgec_fp32_to_fp16_c(v) != want;
    }
    check(!bad_round, "fp32 -> fp16: %d values rounded wrongly", bad_round);
    check(edgec_fp32_to_fp16(INFINITY) == 0x7c00 && edgec_fp32_to_fp16_c(-INFINITY) == 0xfc00 && edgec_fp32_to_fp16_c(1e10f) == 0x7c00,
          "fp32 -> fp16: infinities and overflow must give inf");
    check(edgec_bf16_to_fp32(0x3f80) == 1.0f && edgec_bf16_to_fp32(0xc049) == -3.140625f, "bf16 -> fp32 wrong");
}

/* ---- vector helpers ---------------------------------------------------------------------- */

static void test_helpers(void)
{
    static const int ns[] = {1, 7, 16, 33, 64, 576, 1000, 1536};
    enum { MAXN = 1536 };
    static float x[MAXN], y[MAXN], w[MAXN], o[MAXN];
    for (int k = 0; k < (int)(sizeof ns / sizeof ns[0]); k++) {
        int n = ns[k];
        fill_random(x, n);
        fill_random(w, n);
        /* rmsnorm, out-of-place and in place */
        double ss = 0;
        for (int i = 0; i < n; i++) ss += (double)x[i] * x[i];
        double sc = 1.0 / sqrt(ss / n + 1e-5);
        int bad = 0;
        edgec_rmsnorm(o, x, w, n, 1e-5f);
        for (int i = 0; i < n; i++) bad += !(fabs(o[i] - x[i] * sc * w[i]) <= 1e-5 * fabs(x[i] * sc * w[i]) + 1e-30);
        memcpy(y, x, sizeof(float) * n);
        edgec_rmsnorm(y, y, w, n, 1e-5f);
        for (int i = 0; i < n; i++) bad += y[i] != o[i];
        check(!bad, "rmsnorm n=%d: %d values off", n, bad);

        /* dot, axpy, add */
        double dot = 0, mag = 0;
        for (int i = 0; i < n; i++) { dot += (double)x[i] * w[i]; mag += fabs((double)x[i] * w[i]); }
        check(fabs(edgec_dot_f32(x, w, n) - dot) <= 1e-6 * mag, "dot_f32 n=%d", n);
        memcpy(y, w, sizeof(float) * n);
        edgec_axpy_f32(y, 0.75f, x, n);
        bad = 0;
        for (int i = 0; i < n; i++) bad += !(fabs(y[i] - (w[i] + 0.75 * x[i])) <= 1e-6 * (fabs(w[i]) + fabs(x[i])));
        memcpy(y, w, sizeof(float) * n);
        edgec_add_f32(y, x, n);
        for (int i = 0; i < n; i++) bad += y[i] != w[i] + x[i];
        check(!bad, "axpy_f32/add_f32 n=%d: %d values off", n, bad);

        /* softmax over a wide range (exp underflows to 0) with one -inf entry (a masked score) */
        for (int i = 0; i < n; i++) y[i] = x[i] * 100;
        if (n > 3) y[2] = -INFINITY;
        double mx = -INFINITY, sum = 0;
        for (int i = 0; i < n; i++) mx = fmax(mx, y[i]);
        for (int i = 0; i < n; i++) sum += exp(y[i] - mx);
        memcpy(o, y, sizeof(float) * n);
        edgec_softmax(o, n);
        bad = 0;
        for (int i = 0; i < n; i++) {
            double want = exp(y[i] - mx) / sum;
            bad += !(fabs(o[i] - want) <= 1e-5 * want + 1e-37);
        }
        check(!bad, "softmax n=%d: %d values off", n, bad);

        /* swiglu with gates up to +-30 */
        for (int i = 0; i < n; i++) y[i] = x[i] * 30;
        memcpy(o, y, sizeof(float) * n);
        edgec_swiglu(o, w, n);
        bad = 0;
        for (int i = 0; i < n; i++) {
            double want = y[i] / (1 + exp(-(double)y[i])) * w[i];
            bad += !(fabs(o[i] - want) <= 1e-5 * fabs(want) + 1e-30);
        }
        check(!bad, "swiglu n=%d: %d values off", n, bad);
    }
    /* exp itself over its whole range: a few ulp */
    int bad_exp = 0;
    for (int i = 0; i <= 100000; i++) {
        float v = -87.0f + 175.0f * (float)i / 100000.0f;
        double want = exp((double)v);
        bad_exp += !(fabs(edgec_expf_c(v) - want) <= 4e-7 * want);
    }
    check(!bad_exp && edgec_expf_c(-INFINITY) == 0.0f && edgec_expf_c(-100.0f) == 0.0f, "expf: %d values off", bad_exp);
}

/* ---- benchmark ----------------------------------------------------------------------------- */

/* Times matvecs over n_mat distinct 1536x576 q4_1 matrices (1: cache-resident; many: DRAM). */
static void bench_q4_1(const char *label, int n_mat, int use_scalar)
{
    enum { ROWS = 1536, N = 576 };
    const size_t mat_bytes = (size_t)ROWS * N / 32 * 20;
    uint8_t *w = malloc(mat_bytes * n_mat);
    float x[N], out[ROWS];
    edgec_block_q8a xq[N / 32];
    for (size_t i = 0; i < mat_bytes * n_mat; i += 20) { /* random nibbles, sane fp16 scales */
        wr16(w + i, ref_to_half(0.01f));
        wr16(w + i + 2, ref_to_half(-0.08f));
        for (int j = 4; j < 20; j++) w[i + j] = (uint8_t)rng_u64();
    }
    fill_random(x, N);
    edgec_quantize_q8a(x, xq, N);
    double best = 1e9, sink = 0;
    for (int rep = 0; rep < 30; rep++) { /* the best of many short runs: this VM's speed wanders */
        int iters = use_scalar ? 10 : n_mat > 1 ? n_mat : 100;
        double t0 = now_s();
        for (int it = 0; it < iters; it++) {
            const uint8_t *m = w + (size_t)(it % n_mat) * mat_bytes;
            if (use_scalar) edgec_scalar_matmul_q4_1(out, ROWS, m, 0, ROWS, xq, 1, N);
            else edgec_matmul_q4_1(out, ROWS, m, 0, ROWS, xq, 1, N);
            sink += out[it % ROWS];
        }
        double dt = (now_s() - t0) / iters;
        best = dt < best ? dt : best;
    }
    printf("bench q4_1 1536x576 matvec, %-28s %-10s %8.1f us  %6.1f GB/s  (sink %g)\n", label,
           use_scalar ? "scalar" : EDGEC_KERNELS_ISA, best * 1e6, mat_bytes / best / 1e9, sink);
    free(w);
}

/* Single-thread DRAM read bandwidth (sum of a 256 MB buffer), the ceiling for a streaming matvec. */
static void bench_read_bandwidth(void)
{
    const size_t n = (size_t)32 << 20; /* uint64 words */
    uint64_t *buf = malloc(n * sizeof *buf);
    for (size_t i = 0; i < n; i++) buf[i] = i;
    double best = 1e9;
    uint64_t sink = 0;
    for (int rep = 0; rep < 5; rep++) {
        double t0 = now_s();
        uint64_t s0 = 0, s1 = 0, s2 = 0, s3 = 0; /* four chains: enough loads in flight for DRAM */
        for (size_t i = 0; i < n; i += 4) {
            s0 += buf[i];
            s1 += buf[i + 1];
            s2 += buf[i + 2];
            s3 += buf[i + 3];
        }
        double dt = now_s() - t0;
        sink += s0 + s1 + s2 + s3;
        best = dt < best ? dt : best;
    }
    printf("bench read bandwidth, 256 MB buffer, %-18s %8.1f ms  %6.1f GB/s  (sink %llu)\n", "", best * 1e3,
           n * sizeof *buf / best / 1e9, (unsigned long long)sink);
    free(buf);
}

/* Prompt-batch throughput: 32 tokens through one 1536x576 q4_1 matrix. */
static void bench_q4_1_batch(void)
{
    enum { ROWS = 1536, N = 576, T = 32 };
    uint8_t *w = malloc((size_t)ROWS * N / 32 * 20);
    static float x[T * N], out[T * ROWS];
    static edgec_block_q8a xq[T * N / 32];
    for (size_t i = 0; i < (size_t)ROWS * N / 32 * 20; i += 20) {
        wr16(w + i, ref_to_half(0.01f));
        wr16(w + i + 2, ref_to_half(-0.08f));
        for (int j = 4; j < 20; j++) w[i + j] = (uint8_t)rng_u64();
    }
    fill_random(x, T * N);
    edgec_quantize_q8a(x, xq, T * N);
    double best = 1e9;
    for (int rep = 0; rep < 30; rep++) {
        double t0 = now_s();
        for (int it = 0; it < 5; it++) edgec_matmul_q4_1(out, ROWS, w, 0, ROWS, xq, T, N);
        double dt = (now_s() - t0) / 5;
        best = dt < best ? dt : best;
    }
    printf("bench q4_1 1536x576 x %d tokens, %-17s %-10s %8.1f us  %6.1f GMAC/s  (%.2f us per token)\n", T, "batch", EDGEC_KERNELS_ISA,
           best * 1e6, (double)ROWS * N * T / best / 1e9, best * 1e6 / T);
    free(w);
}

int main(int argc, char **argv)
{
    printf("EDGEC_KERNELS_ISA=%s\n", EDGEC_KERNELS_ISA);
    if (argc > 1 && !strcmp(argv[1], "--bench")) {
        bench_q4_1("cache-resident (553 KB)", 1, 1);
        bench_q4_1("cache-resident (553 KB)", 1, 0);
        bench_q4_1("streaming, 128 matrices (71 MB)", 128, 0);
        bench_q4_1_batch();
        bench_read_bandwidth();
        return 0;
    }
    test_fp16();
    test_quantize_q8a();
    test_q8_0_extremes();
    test_helpers();
    test_matmul();
    return check_summary();
}
