/* test_kernels_lut.c - checks the LUT (bit-plane table lookup) kernels of runtime/core/kernels/lut.h.
 *
 * Build (from the repository root), e.g.:
 *   gcc -std=c11 -O2 -march=native -Wall -Wextra -Werror -Iruntime/core tests/c/test_kernels_lut.c -o test_kernels_lut -lm
 * Run: ./test_kernels_lut          all formats x small and SmolLM2-like shapes x n_tok 1, 5
 *                                  (prints "N passed, M failed" last; exit status 1 on any failure)
 *      ./test_kernels_lut --small  the small shapes only (sanitizer builds)
 *      ./test_kernels_lut --big    one 49152 x 576 q4_1 matrix (the classifier's shape)
 *      ./test_kernels_lut --tile FMT ROWS N IN OUT       row-major bytes -> this file's tiles
 *      ./test_kernels_lut --get-rows FMT ROWS N IN OUT   LUT bytes -> every row by edgec_get_row_lut_FMT
 *                                  (so tests/kernels/test_kernels_lut.py can compare with lut_layout.py)
 *
 * Weights are random row-major blocks (random codes, plausible fp16 scales), tiled by this file's
 * own implementation of the layout (docs/lut.md), so the kernels are checked against an
 * independent reading of the bytes: a double-precision reference, the row-major scalar kernels
 * (edgec_scalar_matmul_q4_0 / _q4_1 / _tq2; this file's own for q2 / q3), and exact integers.
 */
#define TEST_RNG_SEED 0x7a3e11d0c0ffee01ull
#include "test_blocks.h"
#include "kernels/lut.h"

/* ---- fp16 scales ------------------------------------------------------------------------- */

/* An fp16 of f's magnitude order (truncated mantissa: any half is a valid scale). */
static uint16_t to_half(float f)
{
    uint16_t sign = f < 0 ? 0x8000 : 0;
    int e;
    double m = frexp(fabs((double)f), &e); /* f = m * 2^e, m in [0.5, 1) */
    if (m == 0 || e < -13) return sign;
    return (uint16_t)(sign | (e + 14) << 10 | ((int)(m * 2048) & 1023));
}

/* ---- formats ------------------------------------------------------------------------------ */

typedef void (*matmul_lut_fn)(float *, int, const void *, int, int, int, const void *, const edgec_block_q8a *, int, int);
typedef void (*matmul_rm_fn)(float *, int, const void *, int, int, const edgec_block_q8a *, int, int);
typedef void (*get_row_fn)(float *, const void *, int, int);

typedef struct {
    const char *name;
    int id;          /* EDGEC_LUT_* */
    int planes;
    int block_cols;  /* row-major block: weights */
    int block_bytes; /* and bytes */
    matmul_lut_fn lut, lut_scalar;
    matmul_rm_fn rm;
    get_row_fn get_row_lut, get_row_rm;
} format;

/* Code q (unsigned) of column j of a row-major row, by the format's definition. */
static int rm_code(const format *f, const uint8_t *row, int j)
{
    const uint8_t *blk = row + (size_t)(j / f->block_cols) * f->block_bytes;
    int k = j % f->block_cols;
    switch (f->id) {
    case EDGEC_LUT_Q2: return (blk[4 + (k & 7)] >> (2 * (k >> 3))) & 3;
    case EDGEC_LUT_Q3: return ((blk[4 + (k & 7)] >> (2 * (k >> 3))) & 3) | ((blk[12 + (k >> 3)] >> (k & 7)) & 1) << 2;
    case EDGEC_LUT_TQ2: return (blk[2 + (k & 15)] >> (2 * (k >> 4))) & 3;
    case EDGEC_LUT_Q4_0: return k < 16 ? blk[2 + k] & 15 : blk[2 + k - 16] >> 4;
    default: return k < 16 ? blk[4 + k] & 15 : blk[4 + k - 16] >> 4;
    }
}

static int has_m(const format *f) { return f->id == EDGEC_LUT_Q2 || f->id == EDGEC_LUT_Q3 || f->id == EDGEC_LUT_Q4_1; }

/* Weight j of a row-major row, exactly (double). */
static double rm_weight(const format *f, const uint8_t *row, int j)
{
    const uint8_t *blk = row + (size_t)(j / f->block_cols) * f->block_bytes;
    double d = ref_half(rd16(blk)), q = rm_code(f, row, j);
    if (f->id == EDGEC_LUT_TQ2) return d * (q - 1);
    if (f->id == EDGEC_LUT_Q4_0) return d * (q - 8);
    return d * q + ref_half(rd16(blk + 2));
}

/* A whole row-major row of n weights, exactly (double): scales decoded once per block. */
static void rm_row(const format *f, const uint8_t *row, int n, double *dst)
{
    for (int b = 0; b < n / f->block_cols; b++) {
        const uint8_t *blk = row + (size_t)b * f->block_bytes;
        const double d = ref_half(rd16(blk)), m = has_m(f) ? ref_half(rd16(blk + 2)) : 0;
        const int bias = f->id == EDGEC_LUT_TQ2 ? 1 : f->id == EDGEC_LUT_Q4_0 ? 8 : 0;
        for (int k = 0; k < f->block_cols; k++) {
            const int j = b * f->block_cols + k;
            dst[j] = d * (rm_code(f, row, j) - bias) + m;
        }
    }
}

/* Row-major scalar references for q2 / q3 (no row-major kernels of these in the runtime):
 * per block d*(x.d*isum) + m*x.s, isum = sum q*qx exact. */
static void ref_matmul_q23(const format *f, float *out, int ldo, const void *w, int r0, int r1, const edgec_block_q8a *xq, int n_tok, int n)
{
    const int nb = n / 32;
    int *q = malloc(sizeof(int) * n);
    for (int r = r0; r < r1; r++) {
        const uint8_t *row = (const uint8_t *)w + (size_t)r * nb * f->block_bytes;
        for (int j = 0; j < n; j++) q[j] = rm_code(f, row, j);
        for (int t = 0; t < n_tok; t++) {
            float acc = 0.0f;
            for (int b = 0; b < nb; b++) {
                const uint8_t *blk = row + (size_t)b * f->block_bytes;
                const edgec_block_q8a *x = xq + (size_t)t * nb + b;
                int isum = 0;
                for (int j = 0; j < 32; j++) isum += q[32 * b + j] * x->qs[j];
                acc += edgec_fp16_to_fp32(rd16(blk)) * (x->d * (float)isum) + edgec_fp16_to_fp32(rd16(blk + 2)) * x->s;
            }
            out[(size_t)t * ldo + r] = acc;
        }
    }
    free(q);
}

static void ref_get_row_q23(const format *f, float *dst, const void *w, int r, int n)
{
    const uint8_t *row = (const uint8_t *)w + (size_t)r * (n / 32) * f->block_bytes;
    for (int j = 0; j < n; j++) {
        const uint8_t *blk = row + (size_t)(j / 32) * f->block_bytes;
        dst[j] = edgec_fp16_to_fp32(rd16(blk)) * (float)rm_code(f, row, j) + edgec_fp16_to_fp32(rd16(blk + 2));
    }
}

static const format formats[5];
static void rm_q2(float *o, int l, const void *w, int r0, int r1, const edgec_block_q8a *x, int t, int n) { ref_matmul_q23(&formats[0], o, l, w, r0, r1, x, t, n); }
static void rm_q3(float *o, int l, const void *w, int r0, int r1, const edgec_block_q8a *x, int t, int n) { ref_matmul_q23(&formats[1], o, l, w, r0, r1, x, t, n); }
static void gr_q2(float *dst, const void *w, int r, int n) { ref_get_row_q23(&formats[0], dst, w, r, n); }
static void gr_q3(float *dst, const void *w, int r, int n) { ref_get_row_q23(&formats[1], dst, w, r, n); }

static const format formats[5] = {
    {"q2", EDGEC_LUT_Q2, 2, 32, 12, edgec_matmul_lut_q2, edgec_lut_scalar_matmul_q2, rm_q2, edgec_get_row_lut_q2, gr_q2},
    {"q3", EDGEC_LUT_Q3, 3, 32, 16, edgec_matmul_lut_q3, edgec_lut_scalar_matmul_q3, rm_q3, edgec_get_row_lut_q3, gr_q3},
    {"tq2", EDGEC_LUT_TQ2, 2, 64, 18, edgec_matmul_lut_tq2, edgec_lut_scalar_matmul_tq2, edgec_scalar_matmul_tq2,
     edgec_get_row_lut_tq2, edgec_get_row_tq2},
    {"q4_0", EDGEC_LUT_Q4_0, 4, 32, 18, edgec_matmul_lut_q4_0, edgec_lut_scalar_matmul_q4_0, edgec_scalar_matmul_q4_0,
     edgec_get_row_lut_q4_0, edgec_get_row_q4_0},
    {"q4_1", EDGEC_LUT_Q4_1, 4, 32, 20, edgec_matmul_lut_q4_1, edgec_lut_scalar_matmul_q4_1, edgec_scalar_matmul_q4_1,
     edgec_get_row_lut_q4_1, edgec_get_row_q4_1},
};
#define N_FORMATS 5

static const format *find_format(const char *name)
{
    for (int i = 0; i < N_FORMATS; i++)
        if (!strcmp(name, formats[i].name)) return &formats[i];
    return NULL;
}

static size_t rm_bytes(const format *f, int rows, int n) { return (size_t)rows * (n / f->block_cols) * f->block_bytes; }

/* Random row-major blocks: random code bytes, d of varying magnitude (sign too), m around
 * -d*2^(P-1) as a min-max quantizer would set it (q2, q3, q4_1). */
static void fill_weights(const format *f, uint8_t *w, int rows, int n)
{
    size_t blocks = (size_t)rows * (n / f->block_cols);
    for (size_t i = 0; i < blocks; i++) {
        uint8_t *blk = w + i * f->block_bytes;
        for (int j = 0; j < f->block_bytes; j++) blk[j] = (uint8_t)rng_u64();
        float d = ldexpf(0.5f + 0.5f * fabsf(rng_float()), -(int)(rng_u64() % 8) - 4) * (rng_u64() % 8 ? 1.0f : -1.0f);
        wr16(blk, to_half(d));
        if (has_m(f)) wr16(blk + 2, to_half(-d * (float)(1 << (f->planes - 1)) * (1.0f + 0.25f * rng_float())));
    }
}

/* ---- the layout, written from docs/lut.md independently of the kernels --------------------- */

static int unit_cols(const format *f) { return f->id == EDGEC_LUT_TQ2 ? 64 : 32; }
static int header_bytes(const format *f) { return has_m(f) ? 128 : 64; }
static int tile_bytes(const format *f) { return header_bytes(f) + unit_cols(f) / 32 * f->planes * 128; }
static size_t tiled_bytes(const format *f, int rows, int n) { return (size_t)((rows + 31) / 32) * (n / unit_cols(f)) * tile_bytes(f); }

/* Row-major bytes (rows x n) -> tiles; padding rows are all-zero bytes. */
static void tile_matrix(const format *f, const uint8_t *w, int rows, int n, uint8_t *dst)
{
    const int U = unit_cols(f), nu = n / U, groups = (rows + 31) / 32, H = header_bytes(f);
    memset(dst, 0, tiled_bytes(f, rows, n));
    for (int g = 0; g < groups; g++)
        for (int u = 0; u < nu; u++) {
            uint8_t *tile = dst + ((size_t)g * nu + u) * tile_bytes(f);
            for (int r = 0; r < 32 && 32 * g + r < rows; r++) {
                const uint8_t *row = w + (size_t)(32 * g + r) * (n / f->block_cols) * f->block_bytes;
                const uint8_t *blk = row + (size_t)(u * U / f->block_cols) * f->block_bytes;
                tile[2 * r] = blk[0];
                tile[2 * r + 1] = blk[1];
                if (has_m(f)) {
                    tile[64 + 2 * r] = blk[2];
                    tile[64 + 2 * r + 1] = blk[3];
                }
                for (int j = 0; j < U; j++) { /* column j of the unit: sub-block s, quad c, bit 4k+i */
                    int s = j / 32, c = (j % 32) / 16, bit = j % 16, q = rm_code(f, row, u * U + j);
                    for (int p = 0; p < f->planes; p++) {
                        uint8_t *word = tile + H + s * f->planes * 128 + p * 128 + c * 64 + 2 * r;
                        word[bit / 8] |= (uint8_t)(((q >> p) & 1) << (bit % 8));
                    }
                }
            }
        }
}

/* ---- matmul checks ------------------------------------------------------------------------ */


typedef struct {
    int rows, n, n_tok, nb;
    uint8_t *w, *tiles;
    edgec_block_q8a *xq;
    uint8_t *tables, *tables_s; /* this build's path, scalar path */
    double *ref, *mag;
} problem;

/* Random weights and activations, tiled, tables built, double reference computed. */
static void problem_init(problem *pb, const format *f, int rows, int n, int n_tok)
{
    pb->rows = rows;
    pb->n = n;
    pb->n_tok = n_tok;
    pb->nb = n / 32;
    pb->w = malloc(rm_bytes(f, rows, n));
    pb->tiles = malloc(tiled_bytes(f, rows, n) + 3) + 3; /* odd address: the kernels must not assume alignment */
    pb->xq = malloc(sizeof(edgec_block_q8a) * pb->nb * n_tok);
    pb->tables = malloc(edgec_lut_table_bytes(n) * n_tok + 1) + 1;
    pb->tables_s = malloc(edgec_lut_scalar_table_bytes(n) * n_tok);
    pb->ref = malloc(sizeof(double) * rows * n_tok);
    pb->mag = malloc(sizeof(double) * rows * n_tok);
    float *x = malloc(sizeof(float) * n);
    double *wd = malloc(sizeof(double) * n), *xv = malloc(sizeof(double) * n * n_tok);
    fill_weights(f, pb->w, rows, n);
    tile_matrix(f, pb->w, rows, n, pb->tiles);
    for (int t = 0; t < n_tok; t++) {
        fill_random(x, n);
        edgec_quantize_q8a(x, pb->xq + (size_t)t * pb->nb, n);
    }
    edgec_lut_build_tables(pb->tables, pb->xq, n_tok, n);
    edgec_lut_scalar_build_tables(pb->tables_s, pb->xq, n_tok, n);
    for (int t = 0; t < n_tok; t++) /* the activations the kernels see */
        for (int j = 0; j < n; j++) {
            const edgec_block_q8a *xb = pb->xq + (size_t)t * pb->nb + j / 32;
            xv[(size_t)t * n + j] = (double)xb->d * xb->qs[j % 32];
        }
    for (int r = 0; r < rows; r++) { /* times the exact weights */
        const uint8_t *row = pb->w + (size_t)r * (n / f->block_cols) * f->block_bytes;
        rm_row(f, row, n, wd);
        for (int t = 0; t < n_tok; t++) {
            double s = 0, a = 0;
            for (int j = 0; j < n; j++) {
                double term = wd[j] * xv[(size_t)t * n + j];
                s += term;
                a += fabs(term);
            }
            pb->ref[t * rows + r] = s;
            pb->mag[t * rows + r] = a;
        }
    }
    free(x);
    free(wd);
    free(xv);
}

static void problem_free(problem *pb)
{
    free(pb->w); free(pb->tiles - 3); free(pb->xq); free(pb->tables - 1); free(pb->tables_s); free(pb->ref); free(pb->mag);
}

/* Runs the path's kernel and the scalar LUT kernel on groups [g0, g1) (as given, split in two
 * calls when split is set, like two threads) and the row-major reference on the same rows;
 * checks them against the double reference and each other, and that nothing else was written. */
static void check_range(const format *f, const problem *pb, int g0, int g1, int split)
{
    const int rows = pb->rows, n_tok = pb->n_tok, ldo = rows + 5, groups = (rows + 31) / 32;
    const int r0 = 32 * g0 < rows ? 32 * g0 : rows, r1 = 32 * g1 < rows ? 32 * g1 : rows;
    float *out = malloc(sizeof(float) * ldo * n_tok), *out_s = malloc(sizeof(float) * ldo * n_tok), *out_rm = malloc(sizeof(float) * ldo * n_tok);
    for (int i = 0; i < ldo * n_tok; i++) out[i] = out_s[i] = out_rm[i] = POISON;
    if (split) {
        int mid = (g0 + (g1 < groups ? g1 : groups)) / 2;
        f->lut(out, ldo, pb->tiles, mid, g1, rows, pb->tables, pb->xq, n_tok, pb->n);
        f->lut(out, ldo, pb->tiles, g0, mid, rows, pb->tables, pb->xq, n_tok, pb->n);
    } else {
        f->lut(out, ldo, pb->tiles, g0, g1, rows, pb->tables, pb->xq, n_tok, pb->n);
    }
    f->lut_scalar(out_s, ldo, pb->tiles, g0, g1, rows, pb->tables_s, pb->xq, n_tok, pb->n);
    if (r0 < r1) f->rm(out_rm, ldo, pb->w, r0, r1, pb->xq, n_tok, pb->n);
    range_errors e = compare_rows(out, out_s, ldo, pb->ref, pb->mag, rows, r0, r1, n_tok);
    range_errors e_rm = compare_rows(out_rm, out_rm, ldo, pb->ref, pb->mag, rows, r0, r1, n_tok); /* the row-major reference itself */
    const int bad_rm = count_differing(out, out_rm, ldo, pb->mag, rows, r0, r1, n_tok, 0) + e_rm.bad + e_rm.stray;
    check(!e.bad && !e.stray, "lut %s (%s) rows=%d n=%d n_tok=%d g=[%d,%d)%s: %d off the reference, %d stray writes, worst err/tol %.3g",
          f->name, EDGEC_LUT_ISA, rows, pb->n, n_tok, g0, g1, split ? " split" : "", e.bad, e.stray, e.worst);
    check(!e.bad_scalar, "lut scalar %s rows=%d n=%d n_tok=%d g=[%d,%d): %d off the reference", f->name, rows, pb->n, n_tok, g0, g1, e.bad_scalar);
    check(!bad_rm, "lut %s rows=%d n=%d n_tok=%d g=[%d,%d): %d differ from the row-major scalar kernel by more than 1e-5 relative",
          f->name, rows, pb->n, n_tok, g0, g1, bad_rm);
    free(out); free(out_s); free(out_rm);
}

/* get_row on the tiles: the same floats as the row-major decoder, and the exact weights. */
static void check_get_row(const format *f, const problem *pb)
{
    const int n = pb->n;
    float *row = malloc(sizeof(float) * n), *row_rm = malloc(sizeof(float) * n);
    double *exact = malloc(sizeof(double) * n);
    int bad = 0;
    for (int r = 0; r < pb->rows; r++) {
        f->get_row_lut(row, pb->tiles, r, n);
        f->get_row_rm(row_rm, pb->w, r, n);
        rm_row(f, pb->w + (size_t)r * (n / f->block_cols) * f->block_bytes, n, exact);
        for (int j = 0; j < n; j++) bad += row[j] != row_rm[j] || row[j] != (float)exact[j];
    }
    check(!bad, "get_row_lut %s rows=%d n=%d: %d values differ", f->name, pb->rows, n, bad);
    free(row); free(row_rm); free(exact);
}

/* One format x shape: every group range for small matrices, all + split for big ones. */
static void test_shape(const format *f, int rows, int n, int n_tok)
{
    problem pb;
    problem_init(&pb, f, rows, n, n_tok);
    const int groups = (rows + 31) / 32;
    check_range(f, &pb, 0, groups, 0);
    check_range(f, &pb, 0, groups + 7, 1);
    if (rows <= 128) {
        check_range(f, &pb, 1, groups, 0);
        check_range(f, &pb, 0, 1, 0);
        check_range(f, &pb, groups / 2, groups / 2 + 1, 0);
        check_range(f, &pb, groups / 2, groups / 2, 0);
    }
    if (n_tok == 1) check_get_row(f, &pb);
    problem_free(&pb);
}

static void test_small(void)
{
    static const int rows[] = {1, 17, 33, 100}, toks[] = {1, 3, 5}; /* 3 and 5: every token-tile size runs */
    for (int fi = 0; fi < N_FORMATS; fi++)
        for (int a = 0; a < 4; a++)
            for (int k = 1; k <= 3; k++) /* n = 32, 64, 96 (tq2: 64, 128, 192) */
                for (int c = 0; c < 3; c++) test_shape(&formats[fi], rows[a], k * unit_cols(&formats[fi]), toks[c]);
}

/* SmolLM2-135M's and Qwen2-0.5B's odd sizes. */
static void test_model_shapes(void)
{
    static const int shapes[][2] = {{576, 576}, {1536, 576}, {576, 1536}, {896, 896}}, toks[] = {1, 5};
    for (int fi = 0; fi < N_FORMATS; fi++)
        for (int a = 0; a < 4; a++)
            for (int c = 0; c < 2; c++) test_shape(&formats[fi], shapes[a][0], shapes[a][1], toks[c]);
}

/* Largest sums: every code at its maximum (or 0), activations +-127; d = 1 and m = 0 (q4_1: 1),
 * so every result is an integer that float holds exactly. */
static void test_extremes(void)
{
    enum { ROWS = 40, N = 128, NB = N / 32, T = 11 };
    for (int fi = 0; fi < N_FORMATS; fi++) {
        const format *f = &formats[fi];
        const int max_code = (1 << f->planes) - 1 - (f->id == EDGEC_LUT_TQ2); /* tq2 writes codes 0..2 */
        uint8_t w[ROWS * NB * 20], tiles[2 * 4 * 640];
        edgec_block_q8a xq[T * NB];
        memset(w, 0, sizeof w);
        for (int r = 0; r < ROWS; r++) { /* rows of all-max, all-zero and mixes, built code by code */
            uint8_t *row = w + (size_t)r * (N / f->block_cols) * f->block_bytes;
            for (int b = 0; b < N / f->block_cols; b++) {
                wr16(row + b * f->block_bytes, 0x3c00); /* d = 1 */
                if (f->id == EDGEC_LUT_Q4_1) wr16(row + b * f->block_bytes + 2, 0x3c00);
            }
            for (int j = 0; j < N; j++) {
                int q = r % 3 == 0 ? max_code : r % 3 == 1 ? 0 : ((j / 2 + r) & 1) * max_code;
                uint8_t *blk = row + (size_t)(j / f->block_cols) * f->block_bytes;
                int k = j % f->block_cols;
                if (f->id == EDGEC_LUT_Q2 || f->id == EDGEC_LUT_Q3) {
                    blk[4 + (k & 7)] |= (uint8_t)((q & 3) << (2 * (k >> 3)));
                    if (f->id == EDGEC_LUT_Q3) blk[12 + (k >> 3)] |= (uint8_t)(((q >> 2) & 1) << (k & 7));
                } else if (f->id == EDGEC_LUT_TQ2) {
                    blk[2 + (k & 15)] |= (uint8_t)(q << (2 * (k >> 4)));
                } else {
                    int at = f->id == EDGEC_LUT_Q4_0 ? 2 : 4;
                    blk[at + (k & 15)] |= (uint8_t)(q << (k < 16 ? 0 : 4));
                }
            }
        }
        tile_matrix(f, w, ROWS, N, tiles);
        extreme_activations(xq, T, NB);
        uint8_t *tables = malloc(edgec_lut_table_bytes(N) * T), *tables_s = malloc(edgec_lut_scalar_table_bytes(N) * T);
        edgec_lut_build_tables(tables, xq, T, N);
        edgec_lut_scalar_build_tables(tables_s, xq, T, N);
        float out[T * ROWS], out_s[T * ROWS], out_1[ROWS];
        f->lut(out, ROWS, tiles, 0, 2, ROWS, tables, xq, T, N);
        f->lut_scalar(out_s, ROWS, tiles, 0, 2, ROWS, tables_s, xq, T, N);
        f->lut(out_1, ROWS, tiles, 0, 2, ROWS, tables, xq, 1, N); /* the decode path too, for token 0 */
        int bad = 0;
        for (int t = 0; t < T; t++)
            for (int r = 0; r < ROWS; r++) {
                double want = 0;
                for (int j = 0; j < N; j++) want += rm_weight(f, w + (size_t)r * (N / f->block_cols) * f->block_bytes, j) * xq[t * NB + j / 32].qs[j % 32];
                bad += out[t * ROWS + r] != (float)want || out_s[t * ROWS + r] != (float)want || (t == 0 && out_1[r] != (float)want);
            }
        check(!bad, "lut %s extreme weights/activations (%s): %d results not exact", f->name, EDGEC_LUT_ISA, bad);
        free(tables);
        free(tables_s);
    }
}

/* The layout's sizes and the header's byte formula, on hand-placed examples. */
static void test_layout_constants(void)
{
    static const int want_tile[N_FORMATS] = {384, 512, 576, 576, 640};
    for (int fi = 0; fi < N_FORMATS; fi++)
        check(edgec_lut_tile_bytes(formats[fi].id) == want_tile[fi] && tile_bytes(&formats[fi]) == want_tile[fi],
              "%s tile must be %d bytes", formats[fi].name, want_tile[fi]);
    check(edgec_lut_bytes(EDGEC_LUT_Q4_1, 33, 576) == (size_t)2 * 18 * 640 && edgec_lut_bytes(EDGEC_LUT_TQ2, 49152, 576) == (size_t)1536 * 9 * 576,
          "edgec_lut_bytes wrong");
    check(EDGEC_LUT_TABLE_BYTES(576) == edgec_lut_table_bytes(576) && edgec_lut_table_bytes(576) <= EDGEC_LUT_TABLE_BYTES_MAX(576),
          "table size macros disagree");
    /* q3 tile: row 5, column 22 (quad 1, nibble 1, bit 2) = q 6 = planes 1 and 2 */
    uint8_t tile[512] = {0};
    wr16(tile + 2 * 5, 0x4000);      /* d = 2 */
    wr16(tile + 64 + 2 * 5, 0x3c00); /* m = 1 */
    tile[128 + 1 * 128 + 64 + 2 * 5] = 1 << 6; /* bit 6 of the word: nibble 1, bit 2 */
    tile[128 + 2 * 128 + 64 + 2 * 5] = 1 << 6;
    float row[32];
    edgec_get_row_lut_q3(row, tile, 5, 32);
    check(row[22] == 13.0f && row[21] == 1.0f && row[6] == 1.0f, "q3 byte formula: got %g %g %g", row[22], row[21], row[6]);
}

/* ---- file modes for the Python test ------------------------------------------------------- */

/* --tile / --get-rows FMT ROWS N IN OUT */
static int file_mode(int argc, char **argv)
{
    const format *f = argc == 7 ? find_format(argv[2]) : NULL;
    int rows = argc == 7 ? atoi(argv[3]) : 0, n = argc == 7 ? atoi(argv[4]) : 0;
    if (!f || rows <= 0 || n <= 0 || n % unit_cols(f)) {
        fprintf(stderr, "usage: --tile|--get-rows q2|q3|tq2|q4_0|q4_1 ROWS N IN OUT\n");
        return 2;
    }
    int tile = !strcmp(argv[1], "--tile");
    size_t in_bytes = tile ? rm_bytes(f, rows, n) : tiled_bytes(f, rows, n);
    size_t out_bytes = tile ? tiled_bytes(f, rows, n) : sizeof(float) * rows * n;
    uint8_t *in = malloc(in_bytes), *out = malloc(out_bytes);
    int ok = read_file(argv[5], in, in_bytes);
    if (ok && tile) tile_matrix(f, in, rows, n, out);
    if (ok && !tile)
        for (int r = 0; r < rows; r++) f->get_row_lut((float *)out + (size_t)r * n, in, r, n);
    ok = ok && write_file(argv[6], out, out_bytes);
    if (!ok) fprintf(stderr, "%s: cannot read %s or write %s\n", argv[1], argv[5], argv[6]);
    free(in);
    free(out);
    return ok ? 0 : 1;
}

int main(int argc, char **argv)
{
    if (argc > 1 && (!strcmp(argv[1], "--tile") || !strcmp(argv[1], "--get-rows"))) return file_mode(argc, argv);
    printf("EDGEC_LUT_ISA=%s\n", EDGEC_LUT_ISA);
    if (argc > 1 && !strcmp(argv[1], "--big")) {
        test_shape(&formats[4], 49152, 576, 1);
        test_shape(&formats[4], 49152, 576, 5);
    } else {
        test_layout_constants();
        test_extremes();
        test_small();
        if (!(argc > 1 && !strcmp(argv[1], "--small"))) test_model_shapes();
    }
    return check_summary();
}
