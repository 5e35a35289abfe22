/* test_kernels_i16.c - checks the i16 (16-row interleaved tile) kernels of runtime/core/kernels/i16.h.
 *
 * Build (from the repository root), e.g.:
 *   gcc -std=c11 -O2 -march=native -Wall -Wextra -Werror -Iruntime/core tests/c/test_kernels_i16.c -o test_kernels_i16 -lm
 * Run: ./test_kernels_i16           (prints "N passed, M failed" last, exit status 1 on any failure)
 *      ./test_kernels_i16 --bench   (i16 vs row-major: matvecs, SmolLM2's decode matvec set, a batch)
 *      ./test_kernels_i16 --tile FMT ROWS N IN OUT   (tiles GGUF bytes with this file's tiler, so
 *                                   tests/kernels/test_kernels_i16.py can compare it with interleave_layout.py)
 *
 * Weights are random GGUF blocks made by this file's own quantizers and tiled by this file's
 * own implementation of the layout (docs/layout_i16.md), so the kernels are checked against an
 * independent reading of the bytes: a double-precision reference, the row-major kernels of
 * kernels.h, and (scalar path) bit-exact equality with the row-major scalar kernels.
 */
#define TEST_RNG_SEED 0x1616abcdef012345ull
#include "test_blocks.h"
#include "kernels/i16.h" /* (kernels.h includes it too) */

/* ---- formats ------------------------------------------------------------------------------ */

typedef void (*matmul_i16_fn)(float *, int, const void *, int, int, int, const edgec_block_q8a *, int, int);
typedef void (*matmul_rm_fn)(float *, int, const void *, int, int, const edgec_block_q8a *, int, int);
typedef void (*get_row_fn)(float *, const void *, int, int);

typedef struct {
    const char *name;
    gguf_format gguf;  /* test_blocks.h encodes and decodes it */
    int block_bytes;   /* GGUF bytes per 32 weights */
    int tile_bytes;    /* i16 bytes per 16 rows x 32 columns */
    int scale_bytes;   /* i16 tile header: 16 d (+ 16 m for q4_1) */
    matmul_i16_fn i16, i16_scalar;
    matmul_rm_fn rm, rm_scalar;
    get_row_fn get_row_i16, get_row_rm;
} format;

static const format formats[] = {
    {"q4_0", GGUF_Q4_0, 18, 288, 32, edgec_matmul_i16_q4_0, edgec_i16_scalar_matmul_q4_0, edgec_matmul_q4_0, edgec_scalar_matmul_q4_0,
     edgec_get_row_i16_q4_0, edgec_get_row_q4_0},
    {"q4_1", GGUF_Q4_1, 20, 320, 64, edgec_matmul_i16_q4_1, edgec_i16_scalar_matmul_q4_1, edgec_matmul_q4_1, edgec_scalar_matmul_q4_1,
     edgec_get_row_i16_q4_1, edgec_get_row_q4_1},
    {"q8_0", GGUF_Q8_0, 34, 544, 32, edgec_matmul_i16_q8_0, edgec_i16_scalar_matmul_q8_0, edgec_matmul_q8_0, edgec_scalar_matmul_q8_0,
     edgec_get_row_i16_q8_0, edgec_get_row_q8_0},
};
#define N_FORMATS (int)(sizeof formats / sizeof formats[0])
#define F_Q4_0 (&formats[0])
#define F_Q4_1 (&formats[1])
#define F_Q8_0 (&formats[2])

static int is_q8(const format *f) { return f->gguf == GGUF_Q8_0; }

/* Weight j of a GGUF row, by the format's definition. */
static double decode_weight(const format *f, const uint8_t *row, int j) { return ref_gguf_weight(f->gguf, row, j); }

/* Integer weight of GGUF row (q8_0: qs; q4: the nibble) at column j. */
static int gguf_int(const format *f, const uint8_t *row, int j) { return ref_gguf_code(f->gguf, row, j); }

/* The layout, written from docs/layout_i16.md independently of the kernels: GGUF row-major
 * blocks (rows x n) -> tiles; padding rows are all-zero GGUF blocks. */
static size_t tiled_bytes(const format *f, int rows, int n) { return (size_t)((rows + 15) / 16) * (n / 32) * f->tile_bytes; }

static void tile_matrix(const format *f, const uint8_t *gguf, int rows, int n, uint8_t *dst)
{
    const int nb = n / 32, groups = (rows + 15) / 16;
    const size_t rb = (size_t)nb * f->block_bytes;
    static const uint8_t zero_row[34 * 64]; /* enough for n <= 2048 of any format */
    for (int g = 0; g < groups; g++)
        for (int b = 0; b < nb; b++) {
            uint8_t *tile = dst + ((size_t)g * nb + b) * f->tile_bytes;
            for (int r = 0; r < 16; r++) {
                const uint8_t *row = 16 * g + r < rows ? gguf + (size_t)(16 * g + r) * rb : zero_row;
                const uint8_t *blk = row + (size_t)b * f->block_bytes;
                tile[2 * r] = blk[0];
                tile[2 * r + 1] = blk[1];
                if (f == F_Q4_1) {
                    tile[32 + 2 * r] = blk[2];
                    tile[32 + 2 * r + 1] = blk[3];
                }
                for (int c = 0; c < (is_q8(f) ? 8 : 4); c++)
                    for (int k = 0; k < 4; k++) {
                        uint8_t *out = tile + f->scale_bytes + 64 * c + 4 * r + k;
                        if (is_q8(f)) *out = (uint8_t)(gguf_int(f, row, 32 * b + 4 * c + k) + 128);
                        else *out = (uint8_t)(gguf_int(f, row, 32 * b + 8 * c + k) | gguf_int(f, row, 32 * b + 8 * c + 4 + k) << 4);
                    }
            }
        }
}

/* ---- matmul checks ------------------------------------------------------------------------ */


/* One format x shape: several group ranges, all tokens, against the references. */
static void test_shape(const format *f, int rows, int n, int n_tok)
{
    const int nb = n / 32, groups = (rows + 15) / 16, ldo = rows + 5;
    const size_t rb = (size_t)nb * f->block_bytes, tb = tiled_bytes(f, rows, n);
    uint8_t *gguf = malloc(rows * rb);
    uint8_t *tbuf = malloc(tb + 3), *tiles = tbuf + 3; /* odd address: the kernels must not assume alignment */
    float *wf = malloc(sizeof(float) * n), *xf = malloc(sizeof(float) * n), *row = malloc(sizeof(float) * n), *row_rm = malloc(sizeof(float) * n);
    double *wd = malloc(sizeof(double) * rows * n), *ref = malloc(sizeof(double) * rows * n_tok), *mag = malloc(sizeof(double) * rows * n_tok);
    edgec_block_q8a *xq = malloc(sizeof(edgec_block_q8a) * nb * n_tok);
    float *out = malloc(sizeof(float) * ldo * n_tok), *out_s = malloc(sizeof(float) * ldo * n_tok);
    float *out_rm = malloc(sizeof(float) * ldo * n_tok), *out_rms = malloc(sizeof(float) * ldo * n_tok);

    for (int r = 0; r < rows; r++) {
        fill_random(wf, n);
        ref_encode_gguf_row(f->gguf, wf, gguf + r * rb, n);
        for (int j = 0; j < n; j++) wd[(size_t)r * n + j] = decode_weight(f, gguf + r * rb, j);
    }
    tile_matrix(f, gguf, rows, n, tiles);
    for (int t = 0; t < n_tok; t++) {
        fill_random(xf, n);
        edgec_quantize_q8a(xf, xq + (size_t)t * nb, n);
    }
    ref_matmul_q8a(wd, xq, rows, n, n_tok, ref, mag); /* exact weights x the activations the kernels see */

    /* group ranges: all, g1 past the end, all but the first, only the first, a middle one, empty */
    int ranges[6][2] = {{0, groups}, {0, groups + 7}, {1, groups}, {0, 1}, {groups / 2, groups / 2 + 1}, {groups / 2, groups / 2}};
    for (int k = 0; k < 6; k++) {
        int g0 = ranges[k][0], g1 = ranges[k][1];
        if (g0 > groups || (g0 == g1 && k != 5) || (g0 >= groups && k != 5)) continue;
        int r0 = 16 * g0, r1 = 16 * g1 < rows ? 16 * g1 : rows;
        for (int i = 0; i < ldo * n_tok; i++) out[i] = out_s[i] = out_rm[i] = out_rms[i] = POISON;
        f->i16(out, ldo, tiles, g0, g1, rows, xq, n_tok, n);
        f->i16_scalar(out_s, ldo, tiles, g0, g1, rows, xq, n_tok, n);
        if (r0 < r1) {
            f->rm(out_rm, ldo, gguf, r0, r1, xq, n_tok, n);
            f->rm_scalar(out_rms, ldo, gguf, r0, r1, xq, n_tok, n);
        }
        range_errors e = compare_rows(out, out_s, ldo, ref, mag, rows, r0, r1, n_tok);
        const int bad_rm = count_differing(out, out_rm, ldo, mag, rows, r0, r1, n_tok, 0);
        const int bad_scalar = count_differing(out_s, out_rms, ldo, mag, rows, r0, r1, n_tok, 1); /* same float ops, same bits */
        check(!e.bad && !e.bad_scalar && !e.stray, "i16 %s rows=%d n=%d n_tok=%d g=[%d,%d): %d off the reference (%s), %d (scalar), %d stray writes, worst err/tol %.3g",
              f->name, rows, n, n_tok, g0, g1, e.bad, EDGEC_I16_ISA, e.bad_scalar, e.stray, e.worst);
        check(!bad_rm, "i16 %s rows=%d n=%d n_tok=%d g=[%d,%d): %d differ from edgec_matmul_%s by more than 1e-5 relative",
              f->name, rows, n, n_tok, g0, g1, bad_rm, f->name);
        check(!bad_scalar, "i16 scalar %s rows=%d n=%d n_tok=%d g=[%d,%d): %d not bit-identical to edgec_scalar_matmul_%s",
              f->name, rows, n, n_tok, g0, g1, bad_scalar, f->name);
    }

    /* get_row: the same floats as the row-major lookup and as the definition */
    if (n_tok == 1) {
        int bad = 0;
        for (int r = 0; r < rows; r++) {
            f->get_row_i16(row, tiles, r, n);
            f->get_row_rm(row_rm, gguf, r, n);
            for (int j = 0; j < n; j++) bad += row[j] != row_rm[j] || row[j] != (float)wd[(size_t)r * n + j];
        }
        check(!bad, "get_row_i16 %s rows=%d n=%d: %d values differ", f->name, rows, n, bad);
    }
    free(gguf); free(tbuf); free(wf); free(xf); free(row); free(row_rm); free(wd); free(ref); free(mag); free(xq);
    free(out); free(out_s); free(out_rm); free(out_rms);
}

static void test_matmul(void)
{
    static const int rows[] = {1, 3, 16, 17, 192, 576}, ns[] = {32, 64, 576, 1536}, toks[] = {1, 2, 5, 32};
    for (int fi = 0; fi < N_FORMATS; fi++)
        for (int a = 0; a < 6; a++)
            for (int b = 0; b < 4; b++)
                for (int c = 0; c < 4; c++) test_shape(&formats[fi], rows[a], ns[b], toks[c]);
}

/* Largest integer products: q8_0 weights -128 / +127, nibbles 0 / 15, activations +-127 (where a
 * 16-bit pair sum would saturate); all scales 1 so every dot is an exact integer in float. */
static void test_extremes(void)
{
    enum { ROWS = 17, N = 64, NB = N / 32, T = 9 };
    for (int fi = 0; fi < N_FORMATS; fi++) {
        const format *f = &formats[fi];
        uint8_t gguf[ROWS * NB * 34], tiles[2 * NB * 544];
        edgec_block_q8a xq[T * NB];
        for (int r = 0; r < ROWS; r++)
            for (int b = 0; b < NB; b++) {
                uint8_t *blk = gguf + ((size_t)r * NB + b) * f->block_bytes;
                wr16(blk, 0x3c00); /* d = 1 */
                if (f == F_Q4_1) wr16(blk + 2, 0x3c00); /* m = 1 */
                for (int j = 0; j < (is_q8(f) ? 32 : 16); j++) {
                    int pattern = (r + j / 2 + b) % 4; /* rows of all-max, all-min and mixes */
                    int lo = r % 3 == 0 ? 0 : r % 3 == 1 ? 1 : pattern & 1, hi = r % 3 == 0 ? 0 : r % 3 == 1 ? 1 : pattern >> 1;
                    if (is_q8(f)) blk[2 + j] = lo ? 0x80 : 0x7f;
                    else blk[f->block_bytes - 16 + j] = (uint8_t)((lo ? 15 : 0) | (hi ? 15 : 0) << 4);
                }
            }
        tile_matrix(f, gguf, ROWS, N, tiles);
        extreme_activations(xq, T, NB);
        float out[T * ROWS], out_s[T * ROWS];
        f->i16(out, ROWS, tiles, 0, 2, ROWS, xq, T, N);
        f->i16_scalar(out_s, ROWS, tiles, 0, 2, ROWS, xq, T, N);
        f->i16(out, ROWS, tiles, 0, 2, ROWS, xq, 1, N); /* the decode path too, for token 0 */
        int bad = 0;
        for (int t = 0; t < T; t++)
            for (int r = 0; r < ROWS; r++) {
                double want = 0;
                for (int j = 0; j < N; j++) want += decode_weight(f, gguf + (size_t)r * NB * f->block_bytes, j) * xq[t * NB + j / 32].qs[j % 32];
                bad += out[t * ROWS + r] != (float)want || out_s[t * ROWS + r] != (float)want;
            }
        check(!bad, "i16 %s extreme weights/activations (%s): %d results not exact", f->name, EDGEC_I16_ISA, bad);
    }
}

/* The layout's fixed sizes and the header's byte formula, on a hand-placed example. */
static void test_layout_constants(void)
{
    check(edgec_i16_tile_bytes(EDGEC_FMT_Q4_0) == 288 && edgec_i16_tile_bytes(EDGEC_FMT_Q4_1) == 320 && edgec_i16_tile_bytes(EDGEC_FMT_Q8_0) == 544,
          "tile sizes must be 288 / 320 / 544");
    check(edgec_i16_bytes(EDGEC_FMT_Q4_1, 17, 576) == (size_t)2 * 18 * 320 && edgec_i16_bytes(EDGEC_FMT_Q8_0, 49152, 576) == (size_t)3072 * 18 * 544,
          "edgec_i16_bytes wrong");
    /* one q4_1 tile: row 5, column 13 = nibble 9 lives in chunk 1, byte 4*5+1, high nibble */
    uint8_t tile[320] = {0};
    wr16(tile + 2 * 5, 0x4000);      /* d = 2 */
    wr16(tile + 32 + 2 * 5, 0x3c00); /* m = 1 */
    tile[64 + 64 * 1 + 4 * 5 + 1] = 9 << 4;
    float row[32];
    edgec_get_row_i16_q4_1(row, tile, 5, 32);
    check(row[13] == 19.0f && row[9] == 1.0f && row[12] == 1.0f, "q4_1 byte formula: got %g %g %g", row[13], row[9], row[12]);
}

/* ---- benchmark ---------------------------------------------------------------------------- */

/* Random GGUF rows with sane fp16 scales (not a quantization: a bandwidth test needs only bytes). */
static void fill_gguf(const format *f, uint8_t *w, int rows, int n)
{
    size_t blocks = (size_t)rows * (n / 32);
    for (size_t i = 0; i < blocks; i++) {
        uint8_t *blk = w + i * f->block_bytes;
        for (int j = 0; j < f->block_bytes; j++) blk[j] = (uint8_t)rng_u64();
        wr16(blk, ref_to_half(0.01f * (1 + (int)(i % 7))));
        if (f == F_Q4_1) wr16(blk + 2, ref_to_half(-0.08f));
    }
}

/* One matrix of the bench, both layouts. */
typedef struct {
    const format *f;
    int rows, n;
    uint8_t *rm, *i16;
} bench_matrix;

static void bench_matrix_init(bench_matrix *m, const format *f, int rows, int n)
{
    m->f = f;
    m->rows = rows;
    m->n = n;
    m->rm = malloc((size_t)rows * (n / 32) * f->block_bytes);
    m->i16 = aligned_alloc(64, (tiled_bytes(f, rows, n) + 63) / 64 * 64);
    fill_gguf(f, m->rm, rows, n);
    tile_matrix(f, m->rm, rows, n, m->i16);
}

static void bench_matrix_run(const bench_matrix *m, int i16, float *out, const edgec_block_q8a *xq, int n_tok)
{
    if (i16) m->f->i16(out, m->rows, m->i16, 0, (m->rows + 15) / 16, m->rows, xq, n_tok, m->n);
    else m->f->rm(out, m->rows, m->rm, 0, m->rows, xq, n_tok, m->n);
}

/* Single-thread read bandwidth: sum of a 512 MiB buffer, vector loads where there are any. */
static double bench_read_bandwidth(void)
{
    const size_t bytes = (size_t)512 << 20, n = bytes / 8;
    uint64_t *buf = aligned_alloc(64, bytes);
    for (size_t i = 0; i < n; i++) buf[i] = i;
    double best = 1e9;
    uint64_t sink = 0;
    for (int rep = 0; rep < 4; rep++) {
        double t0 = now_s();
#if defined(__AVX512F__) && !defined(EDGEC_SCALAR)
        __m512i a0 = _mm512_setzero_si512(), a1 = a0, a2 = a0, a3 = a0;
        for (size_t i = 0; i < n; i += 32) {
            a0 = _mm512_add_epi64(a0, _mm512_load_si512((const void *)(buf + i)));
            a1 = _mm512_add_epi64(a1, _mm512_load_si512((const void *)(buf + i + 8)));
            a2 = _mm512_add_epi64(a2, _mm512_load_si512((const void *)(buf + i + 16)));
            a3 = _mm512_add_epi64(a3, _mm512_load_si512((const void *)(buf + i + 24)));
        }
        sink += (uint64_t)_mm512_reduce_add_epi64(_mm512_add_epi64(_mm512_add_epi64(a0, a1), _mm512_add_epi64(a2, a3)));
#else
        uint64_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
        for (size_t i = 0; i < n; i += 4) {
            s0 += buf[i];
            s1 += buf[i + 1];
            s2 += buf[i + 2];
            s3 += buf[i + 3];
        }
        sink += s0 + s1 + s2 + s3;
#endif
        double dt = now_s() - t0;
        best = dt < best ? dt : best;
    }
    printf("read bandwidth, 512 MiB buffer:                    %8.1f ms  %6.1f GB/s  (sink %llu)\n", best * 1e3, bytes / best / 1e9,
           (unsigned long long)sink);
    free(buf);
    return bytes / best / 1e9;
}

/* Random activations for n columns and n_tok tokens. */
static edgec_block_q8a *bench_activations(int n, int n_tok)
{
    edgec_block_q8a *xq = malloc(sizeof(edgec_block_q8a) * (n / 32) * n_tok);
    float *x = malloc(sizeof(float) * n);
    for (int t = 0; t < n_tok; t++) {
        fill_random(x, n);
        edgec_quantize_q8a(x, xq + (size_t)t * (n / 32), n);
    }
    free(x);
    return xq;
}

/* One matrix shape: cache-resident (the same matrix again and again) and streaming (cycling
 * through enough copies to leave L3), both layouts. */
static void bench_matvec(const format *f, int rows, int n)
{
    const int n_stream = (int)(((size_t)128 << 20) / ((size_t)rows * (n / 32) * f->block_bytes)) + 1;
    bench_matrix *m = malloc(sizeof *m * n_stream);
    for (int i = 0; i < n_stream; i++) bench_matrix_init(&m[i], f, rows, n);
    edgec_block_q8a *xq = bench_activations(n, 1);
    float *out = malloc(sizeof(float) * rows);
    const double mb = (double)rows * (n / 32) * f->block_bytes;
    for (int stream = 0; stream < 2; stream++)
        for (int i16 = 1; i16 >= 0; i16--) {
            double best = 1e9;
            for (int rep = 0; rep < 20; rep++) {
                int iters = stream ? n_stream : (int)(100e6 / mb) < 1 ? 1 : (int)(100e6 / mb) > 200 ? 200 : (int)(100e6 / mb);
                double t0 = now_s();
                for (int it = 0; it < iters; it++) bench_matrix_run(&m[stream ? it : 0], i16, out, xq, 1);
                double dt = (now_s() - t0) / iters;
                best = dt < best ? dt : best;
            }
            printf("%s %5dx%-4d matvec %-9s %-10s %-10s %8.1f us  %6.1f GB/s\n", f->name, rows, n, stream ? "streaming" : "cached",
                   i16 ? "i16" : "row-major", i16 ? EDGEC_I16_ISA : EDGEC_KERNELS_ISA, best * 1e6, mb / best / 1e9);
        }
    for (int i = 0; i < n_stream; i++) { free(m[i].rm); free(m[i].i16); }
    free(m); free(xq); free(out);
}

/* SmolLM2-135M's matvecs for one decode token: 30 layers x (q 576x576, k, v 192x576, o 576x576,
 * gate, up 1536x576, down 576x1536) q4_1 + the 49152x576 q8_0 classifier: 96.4 MB per token. */
static void bench_decode_set(double bandwidth)
{
    enum { LAYERS = 30, PER_LAYER = 7 };
    static const int shape[PER_LAYER][2] = {{576, 576}, {192, 576}, {192, 576}, {576, 576}, {1536, 576}, {1536, 576}, {576, 1536}};
    bench_matrix *m = malloc(sizeof *m * (LAYERS * PER_LAYER + 1));
    int n_mat = 0;
    double bytes = 0;
    for (int l = 0; l < LAYERS; l++)
        for (int k = 0; k < PER_LAYER; k++) {
            bench_matrix_init(&m[n_mat], F_Q4_1, shape[k][0], shape[k][1]);
            bytes += (double)shape[k][0] * shape[k][1] / 32 * 20;
            n_mat++;
        }
    bench_matrix_init(&m[n_mat++], F_Q8_0, 49152, 576);
    bytes += 49152.0 * 576 / 32 * 34;
    edgec_block_q8a *x576 = bench_activations(576, 1), *x1536 = bench_activations(1536, 1);
    float *out = malloc(sizeof(float) * 49152);
    double best_of[2] = {0, 0};
    for (int i16 = 1; i16 >= 0; i16--) {
        double best = 1e9;
        for (int tok = 0; tok < 30; tok++) {
            double t0 = now_s();
            for (int i = 0; i < n_mat; i++) bench_matrix_run(&m[i], i16, out, m[i].n == 576 ? x576 : x1536, 1);
            double dt = now_s() - t0;
            best = dt < best ? dt : best;
        }
        best_of[i16] = best;
        printf("SmolLM2 decode matvec set (%.1f MB), %-9s %-10s %8.1f us  %6.1f GB/s  %6.1f tok/s  (%.0f%% of read bandwidth)\n",
               bytes / 1e6, i16 ? "i16" : "row-major", i16 ? EDGEC_I16_ISA : EDGEC_KERNELS_ISA, best * 1e6, bytes / best / 1e9, 1 / best,
               100 * bytes / best / 1e9 / bandwidth);
    }
    printf("SmolLM2 decode matvec set: i16 is %.2fx as fast as row-major\n", best_of[0] / best_of[1]);
    for (int i = 0; i < n_mat; i++) { free(m[i].rm); free(m[i].i16); }
    free(m); free(x576); free(x1536); free(out);
}

/* Prompt batch: 32 tokens through one matrix, both layouts, vs one decode matvec of it (cached). */
static void bench_batch(const format *f, int rows, int n)
{
    enum { T = 32 };
    bench_matrix m;
    bench_matrix_init(&m, f, rows, n);
    edgec_block_q8a *xq = bench_activations(n, T);
    float *out = malloc(sizeof(float) * rows * T);
    for (int i16 = 1; i16 >= 0; i16--) {
        double best = 1e9, best1 = 1e9;
        for (int rep = 0; rep < 20; rep++) {
            double t0 = now_s();
            for (int it = 0; it < 5; it++) bench_matrix_run(&m, i16, out, xq, T);
            double t1 = now_s();
            for (int it = 0; it < 50; it++) bench_matrix_run(&m, i16, out, xq, 1);
            double t2 = now_s();
            best = (t1 - t0) / 5 < best ? (t1 - t0) / 5 : best;
            best1 = (t2 - t1) / 50 < best1 ? (t2 - t1) / 50 : best1;
        }
        printf("%s %4dx%-4d x %d tokens   %-10s %-10s %8.1f us  %6.2f us/token (one token alone: %.2f us)  %6.1f GMAC/s\n", f->name, rows, n, T,
               i16 ? "i16" : "row-major", i16 ? EDGEC_I16_ISA : EDGEC_KERNELS_ISA, best * 1e6, best * 1e6 / T, best1 * 1e6,
               (double)rows * n * T / best / 1e9);
    }
    free(m.rm); free(m.i16); free(xq); free(out);
}

/* --tile: GGUF bytes of a ROWS x N matrix in IN -> this file's tiles in OUT. */
static int tile_file(int argc, char **argv)
{
    const format *f = NULL;
    for (int i = 0; i < N_FORMATS; i++)
        if (argc == 7 && !strcmp(argv[2], formats[i].name)) f = &formats[i];
    int rows = argc == 7 ? atoi(argv[3]) : 0, n = argc == 7 ? atoi(argv[4]) : 0;
    if (!f || rows <= 0 || n <= 0 || n % 32 || n > 2048) {
        fprintf(stderr, "usage: --tile q4_0|q4_1|q8_0 ROWS N IN OUT (N a multiple of 32, at most 2048)\n");
        return 2;
    }
    size_t in_bytes = (size_t)rows * (n / 32) * f->block_bytes, out_bytes = tiled_bytes(f, rows, n);
    uint8_t *in = malloc(in_bytes), *out = malloc(out_bytes);
    int ok = read_file(argv[5], in, in_bytes);
    if (ok) tile_matrix(f, in, rows, n, out);
    ok = ok && write_file(argv[6], out, out_bytes);
    free(in);
    free(out);
    if (!ok) fprintf(stderr, "--tile: cannot read %s or write %s\n", argv[5], argv[6]);
    return ok ? 0 : 1;
}

int main(int argc, char **argv)
{
    if (argc > 1 && !strcmp(argv[1], "--tile")) return tile_file(argc, argv);
    printf("EDGEC_I16_ISA=%s\n", EDGEC_I16_ISA);
    if (argc > 1 && !strcmp(argv[1], "--bench")) {
        printf("EDGEC_KERNELS_ISA=%s EDGEC_I16_PREFETCH=%d\n", EDGEC_KERNELS_ISA, EDGEC_I16_PREFETCH);
        double bw = bench_read_bandwidth();
        bench_matvec(F_Q4_1, 1536, 576);
        bench_matvec(F_Q4_1, 576, 1536);
        bench_matvec(F_Q8_0, 49152, 576);
        bench_decode_set(bw);
        bench_batch(F_Q4_1, 1536, 576);
        bench_batch(F_Q8_0, 1536, 576);
        bench_read_bandwidth();
        return 0;
    }
    test_layout_constants();
    test_extremes();
    test_matmul();
    return check_summary();
}
