/* test_kernels_ternary_i16.c - checks runtime/core/kernels/ternary_i16.h (tq2 in 64-row tiles).
 *
 * Build (from the repository root), e.g.:
 *   gcc -std=c11 -O2 -march=native -Wall -Wextra -Werror -Iruntime/core tests/c/test_kernels_ternary_i16.c -o t -lm
 * Run: ./t                               ("EDGEC_TERNARY_I16_ISA=...", then "N passed, M failed"; exit 1 on failure)
 *      ./t --tile ROWS N IN OUT          (tiles row-major tq2 bytes with this file's tiler, for pytest
 *                                         to compare with compiler/edgec/ternary_layout.py)
 *      ./t --dump OUT                    (writes one fixed matmul's floats, for pytest to check that
 *                                         every SIMD path gives the same bits)
 *      ./t --bench                       (times SmolLM2's shapes; not run by the tests)
 *
 * Weights are random codes and one random fp16 scale per row (what the tiles take), written as
 * row-major tq2 by this file's own encoder and tiled by this file's own tiler (the byte formula of
 * docs/ternary.md, written out with loops).  The
 * results are checked against a double-precision sum over this file's own decoding, exactly (d = 1)
 * at the int16 edges, against the row-major scalar kernel bit for bit (scalar path), and for
 * stray writes outside the rows a call owns.
 */
#define TEST_RNG_SEED 0x7e4a5a11c0de0016ull
#include "test_blocks.h"
#include "kernels/ternary_i16.h"

/* ---- this test's encoder (row-major tq2) and tiler (64-row tiles) ------------------------ */

/* Row-major tq2: per 64 weights d (fp16), then qs[16] with code j at bits 2*(j/16) of byte j%16. */
static void encode_rowmajor(const uint8_t *codes, const uint16_t *d, int rows, int n, uint8_t *dst)
{
    const int nb = n / 64;
    for (int r = 0; r < rows; r++)
        for (int b = 0; b < nb; b++) {
            uint8_t *blk = dst + ((size_t)r * nb + b) * 18;
            memset(blk, 0, 18);
            wr16(blk, d[(size_t)r * nb + b]);
            for (int j = 0; j < 64; j++) blk[2 + j % 16] |= (uint8_t)(codes[(size_t)r * n + 64 * b + j] << (2 * (j / 16)));
        }
}

static size_t group_bytes(int n) { return 128 + (size_t)(n / 64) * 1024; }
static size_t tiled_bytes(int rows, int n) { return (size_t)((rows + 63) / 64) * group_bytes(n); }

/* Row-major tq2 (one d per row: its first block's) -> tiles: group G at G*(128 + nb*1024) starts with
 * the fp16 d of its row j at 2j, then tile b at 128 + 1024b; row j = 16s + r has the code of its column
 * 4i + k in bits 2s of the tile's byte 64i + 4r + k; padding rows d = 0, code 1. */
static void tile_matrix(const uint8_t *rowmajor, int rows, int n, uint8_t *dst)
{
    const int nb = n / 64, groups = (rows + 63) / 64;
    for (int G = 0; G < groups; G++) {
        uint8_t *group = dst + (size_t)G * group_bytes(n);
        memset(group, 0, group_bytes(n));
        for (int j = 0; j < 64; j++) {
            const int row = 64 * G + j, s = j / 16, r = j % 16;
            const uint8_t *first = row < rows ? rowmajor + (size_t)row * nb * 18 : NULL;
            group[2 * j] = first ? first[0] : 0;
            group[2 * j + 1] = first ? first[1] : 0;
            for (int b = 0; b < nb; b++) {
                const uint8_t *blk = first ? first + (size_t)b * 18 : NULL;
                uint8_t *tile = group + 128 + (size_t)b * 1024;
                for (int c = 0; c < 64; c++) {
                    int code = blk ? (blk[2 + c % 16] >> (2 * (c / 16))) & 3 : 1;
                    tile[64 * (c / 4) + 4 * r + c % 4] |= (uint8_t)(code << (2 * s));
                }
            }
        }
    }
}

/* Random codes (some blocks mostly zero) and one scale per row, written into each of its blocks;
 * wd = the weights in double. */
static void make_weights(uint8_t *codes, uint16_t *d, double *wd, int rows, int n)
{
    const int nb = n / 64;
    for (int r = 0; r < rows; r++) {
        const uint16_t h = random_half_scale();
        for (int b = 0; b < nb; b++) {
            int zero_share = (int)(rng_u64() % 3);
            d[(size_t)r * nb + b] = h;
            for (int j = 0; j < 64; j++) {
                uint64_t u = rng_u64() % 100;
                int c = u < (uint64_t)(20 * zero_share) ? 1 : (int)(u % 3);
                codes[(size_t)r * n + 64 * b + j] = (uint8_t)c;
                wd[(size_t)r * n + 64 * b + j] = ref_half(h) * (c - 1);
            }
        }
    }
}

/* ---- matmul against the double reference --------------------------------------------- */

/* One shape: several 16-row-quarter ranges (as threads split them), all tokens. */
static void test_shape(int rows, int n, int n_tok)
{
    const int nb = n / 64, nxb = n / 32, ldo = rows + 7, quarters = (rows + 15) / 16;
    uint8_t *codes = malloc((size_t)rows * n);
    uint16_t *d = malloc(sizeof(uint16_t) * (size_t)rows * nb);
    double *wd = malloc(sizeof(double) * (size_t)rows * n);
    uint8_t *rm = malloc((size_t)rows * nb * 18);
    const size_t tb = tiled_bytes(rows, n);
    uint8_t *tbuf = malloc(tb + 3), *tiles = tbuf + 3; /* odd address: no alignment may be assumed */
    float *xf = malloc(sizeof(float) * (size_t)n * n_tok);
    edgec_block_q8a *xq = malloc(sizeof(edgec_block_q8a) * (size_t)nxb * n_tok);
    double *ref = malloc(sizeof(double) * (size_t)rows * n_tok), *mag = malloc(sizeof(double) * (size_t)rows * n_tok);
    float *out = malloc(sizeof(float) * (size_t)ldo * n_tok), *out_s = malloc(sizeof(float) * (size_t)ldo * n_tok);
    float *out_rm = malloc(sizeof(float) * (size_t)ldo * n_tok), *row = malloc(sizeof(float) * (size_t)n);

    make_weights(codes, d, wd, rows, n);
    encode_rowmajor(codes, d, rows, n, rm);
    tile_matrix(rm, rows, n, tiles);
    check(edgec_ti16_bytes(rows, n) == tb, "edgec_ti16_bytes(%d, %d) = %zu, want %zu", rows, n, edgec_ti16_bytes(rows, n), tb);
    random_activations(xf, xq, n, n_tok);
    ref_matmul_q8a(wd, xq, rows, n, n_tok, ref, mag);

    /* quarter ranges: all; two halves and the first of three thirds as threads would get them; one
     * that starts mid-group */
    int half = quarters / 2, third = quarters / 3,
        ranges[6][2] = {{0, quarters}, {0, half}, {half, quarters}, {third, 2 * third}, {2 * third, quarters}, {1, quarters + 9}};
    for (int k = 0; k < 6; k++) {
        const int g0 = ranges[k][0], g1 = ranges[k][1];
        /* the rows this call owns: groups G with 4G in [g0, g1) */
        const int r0 = 64 * ((g0 + 3) / 4), r1raw = 64 * ((g1 + 3) / 4), r1 = r1raw < rows ? r1raw : rows;
        for (size_t i = 0; i < (size_t)ldo * n_tok; i++) out[i] = out_s[i] = out_rm[i] = POISON;
        edgec_matmul_i16_tq2(out, ldo, tiles, g0, g1, rows, xq, n_tok, n);
        edgec_ti16_scalar_matmul_tq2(out_s, ldo, tiles, g0, g1, rows, xq, n_tok, n);
        if (r0 < r1) edgec_scalar_matmul_tq2(out_rm, ldo, rm, r0, r1, xq, n_tok, n);
        range_errors e = compare_rows(out, out_s, ldo, ref, mag, rows, r0, r1, n_tok);
        int not_exact = 0; /* the tiled scalar kernel must give the row-major scalar kernel's bits */
        for (int t = 0; t < n_tok; t++)
            for (int r = r0; r < r1; r++) not_exact += memcmp(&out_s[(size_t)t * ldo + r], &out_rm[(size_t)t * ldo + r], sizeof(float)) != 0;
        check(!e.bad && !e.bad_scalar && !not_exact && !e.stray,
              "matmul %d x %d n_tok=%d quarters [%d,%d): %d wrong (%s), %d wrong (scalar), %d scalar != row-major scalar, %d stray, worst err/tol %.3g",
              rows, n, n_tok, g0, g1, e.bad, EDGEC_TERNARY_I16_ISA, e.bad_scalar, not_exact, e.stray, e.worst);
    }

    /* get_row (embedding lookup): exactly the reference decoding, and row-major get_row's floats */
    int bad_rows = 0;
    float *row_rm = malloc(sizeof(float) * (size_t)n);
    for (int r = 0; r < rows; r++) {
        edgec_get_row_i16_tq2(row, tiles, r, n);
        edgec_get_row_tq2(row_rm, rm, r, n);
        for (int j = 0; j < n; j++) bad_rows += row[j] != (float)wd[(size_t)r * n + j] || memcmp(&row[j], &row_rm[j], sizeof(float)) != 0;
    }
    check(!bad_rows, "get_row %d x %d: %d values differ from the reference decoding", rows, n, bad_rows);
    free(row_rm);
    free(codes); free(d); free(wd); free(rm); free(tbuf); free(xf); free(xq); free(ref); free(mag);
    free(out); free(out_s); free(out_rm); free(row);
}

/* d_w = d_x = 1: every path must return the integer sum((code-1)*qx) exactly, with qx at +-127
 * and codes at 0 and 2 (the int16 pair edge of the maddubs paths), in every field. */
static void test_exact_extremes(void)
{
    enum { ROWS = 64, N = 256 };
    uint8_t codes[ROWS * N], rm[ROWS * N / 64 * 18], tiles[128 + N / 64 * 1024];
    uint16_t d[ROWS * N / 64];
    edgec_block_q8a xq[N / 32];
    for (int b = 0; b < N / 32; b++) {
        xq[b].d = 1.0f;
        int sum = 0;
        for (int j = 0; j < 32; j++) {
            xq[b].qs[j] = (int8_t)((j / 2 + b) % 2 ? -127 : 127);
            sum += xq[b].qs[j];
        }
        xq[b].s = (float)sum;
    }
    for (int r = 0; r < ROWS; r++)
        for (int j = 0; j < N; j++)
            /* row-dependent: rows 0..15 all 2 (field 0), 16..31 all 0, the rest mixed */
            codes[r * N + j] = (uint8_t)(r < 16 ? 2 : r < 32 ? 0 : r < 48 ? 2 * ((xq[j / 32].qs[j % 32] > 0) ^ (r & 1)) : (j * 7 + r) % 3);
    for (int i = 0; i < ROWS * N / 64; i++) d[i] = 0x3c00; /* 1.0 */
    encode_rowmajor(codes, d, ROWS, N, rm);
    tile_matrix(rm, ROWS, N, tiles);
    float out[ROWS], out_s[ROWS];
    edgec_matmul_i16_tq2(out, ROWS, tiles, 0, 4, ROWS, xq, 1, N);
    edgec_ti16_scalar_matmul_tq2(out_s, ROWS, tiles, 0, 4, ROWS, xq, 1, N);
    int bad = 0;
    for (int r = 0; r < ROWS; r++) {
        long want = 0;
        for (int j = 0; j < N; j++) want += (long)(codes[r * N + j] - 1) * xq[j / 32].qs[j % 32];
        bad += out[r] != (float)want || out_s[r] != (float)want;
    }
    check(!bad, "exact integer sums: %d of %d rows wrong (%s or scalar)", bad, ROWS, EDGEC_TERNARY_I16_ISA);
}

/* One group of two tiles by hand: row 37 (field 2, lane 5) has d at bytes 74-75; its column 64 + 13
 * (tile 1, column 13) with code 2 lives in tile 1's chunk 3, byte 4*5+1, bits 4-5: group byte
 * 128 + 1024 + 192 + 21. */
static void test_layout_by_hand(void)
{
    uint8_t group[128 + 2 * 1024];
    memset(group, 0, sizeof group);
    for (int i = 128; i < (int)sizeof group; i++) group[i] = 0x55;   /* every code 1 */
    wr16(group + 2 * 37, 0x4000); /* d = 2 for row 37 */
    group[128 + 1024 + 64 * 3 + 4 * 5 + 1] = (uint8_t)((0x55 & ~0x30) | 0x20);
    float row[128];
    edgec_get_row_i16_tq2(row, group, 37, 128);
    int bad = 0;
    for (int c = 0; c < 128; c++) bad += row[c] != (c == 64 + 13 ? 2.0f : 0.0f);
    check(!bad, "hand-made group: row 37 should be 2 at column 77 and 0 elsewhere (%d wrong)", bad);
    edgec_block_q8a x[4];
    memset(x, 0, sizeof x);
    for (int b = 0; b < 4; b++) x[b].d = 0.5f;
    x[2].qs[13] = 3;   /* column 77 */
    float out[64];
    edgec_matmul_i16_tq2(out, 64, group, 0, 4, 64, x, 1, 128);
    bad = 0;
    for (int j = 0; j < 64; j++) bad += out[j] != (j == 37 ? 3.0f : 0.0f);   /* 2 * 3 * 0.5 */
    check(!bad, "hand-made group: matmul should give 3 in row 37 and 0 elsewhere (%d wrong, %s)", bad, EDGEC_TERNARY_I16_ISA);
}

static void test_all(void)
{
    /* SmolLM2's shapes, rows not multiple of 16 or 64, one row, one slab and more (n > 2048) */
    static const int shapes[][2] = {{576, 576}, {1536, 576}, {576, 1536}, {192, 576}, {100, 576}, {37, 128},
                                    {1, 64}, {64, 64}, {70, 4096}, {5, 4160}};
    static const int toks[] = {1, 5, 9};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        for (int t = 0; t < 3; t++) {
            if (shapes[s][0] * shapes[s][1] > 600000 && toks[t] == 9) continue; /* keep the run short */
            test_shape(shapes[s][0], shapes[s][1], toks[t]);
        }
    test_shape(49152, 576, 1); /* SmolLM2's classifier */
}

/* ---- --tile: this file's tiler on a file of row-major tq2 bytes ------------------------- */

static int tile_file(int rows, int n, const char *in, const char *out)
{
    const size_t rb = (size_t)rows * (n / 64) * 18, tb = tiled_bytes(rows, n);
    uint8_t *src = malloc(rb), *dst = malloc(tb);
    if (!src || !dst || !read_file(in, src, rb)) return 2;
    tile_matrix(src, rows, n, dst);
    if (!write_file(out, dst, tb)) return 2;
    free(src);
    free(dst);
    return 0;
}

/* ---- --dump: one fixed case (two column slabs, 5 tokens, a partial group), its raw floats ---- */

static int dump_file(const char *path)
{
    enum { ROWS = 200, N = 4160, T = 5 };
    uint8_t *codes = malloc((size_t)ROWS * N), *rm = malloc((size_t)ROWS * N / 64 * 18), *tiles = malloc(tiled_bytes(ROWS, N));
    uint16_t *d = malloc(sizeof(uint16_t) * ROWS * N / 64);
    double *wd = malloc(sizeof(double) * (size_t)ROWS * N);
    float *x = malloc(sizeof(float) * N * T), *out = malloc(sizeof(float) * ROWS * T);
    edgec_block_q8a *xq = malloc(sizeof(edgec_block_q8a) * N / 32 * T);
    make_weights(codes, d, wd, ROWS, N);
    encode_rowmajor(codes, d, ROWS, N, rm);
    tile_matrix(rm, ROWS, N, tiles);
    random_activations(x, xq, N, T);
    edgec_matmul_i16_tq2(out, ROWS, tiles, 0, (ROWS + 15) / 16, ROWS, xq, T, N);
    int ok = write_file(path, out, sizeof(float) * ROWS * T);
    free(codes); free(rm); free(tiles); free(d); free(wd); free(x); free(out); free(xq);
    return ok ? 0 : 2;
}

/* ---- --bench ------------------------------------------------------------------------------ */

/* One i16 matmul call, for best_time. */
typedef struct {
    float *out;
    const uint8_t *tiles;
    const edgec_block_q8a *xq;
    int rows, n_tok, n;
} i16_call;

static void run_i16_call(const void *ctx)
{
    const i16_call *c = ctx;
    edgec_matmul_i16_tq2(c->out, c->rows, c->tiles, 0, (c->rows + 15) / 16, c->rows, c->xq, c->n_tok, c->n);
}

/* rows x n random weights times n_tok tokens: the row-major kernel (bench_rowmajor), then the tiles. */
static void bench_one(int rows, int n, int n_tok)
{
    const int nb = n / 64;
    uint8_t *codes = malloc((size_t)rows * n), *rm = malloc((size_t)rows * nb * 18), *tiles = malloc(tiled_bytes(rows, n));
    uint16_t *d = malloc(sizeof(uint16_t) * (size_t)rows * nb);
    double *wd = malloc(sizeof(double) * (size_t)rows * n);
    float *x = malloc(sizeof(float) * (size_t)n * n_tok), *out = malloc(sizeof(float) * (size_t)rows * n_tok);
    edgec_block_q8a *xq = malloc(sizeof(edgec_block_q8a) * (size_t)(n / 32) * n_tok);
    make_weights(codes, d, wd, rows, n);
    encode_rowmajor(codes, d, rows, n, rm);
    tile_matrix(rm, rows, n, tiles);
    bench_rowmajor("row-major", EDGEC_TERNARY_ISA, edgec_matmul_tq2, rm, (size_t)nb * 18, rows, n, n_tok);
    random_activations(x, xq, n, n_tok);
    const i16_call call = {out, tiles, xq, rows, n_tok, n};
    const double best = best_time(run_i16_call, &call, bench_reps(rows, n, n_tok));
    printf("%-9s %5d x %-5d n_tok=%-2d %9.1f us  %7.2f GB/s  %7.2f Gweights*tok/s (%s)\n", "i16", rows, n, n_tok, best * 1e6,
           (double)tiled_bytes(rows, n) / best / 1e9, (double)rows * n * n_tok / best / 1e9, EDGEC_TERNARY_I16_ISA);
    free(codes); free(rm); free(tiles); free(d); free(wd); free(x); free(out); free(xq);
}

static void bench(void)
{
    static const int shapes[][2] = {{1536, 576}, {576, 1536}, {576, 576}, {49152, 576}};
    for (int s = 0; s < 4; s++) bench_one(shapes[s][0], shapes[s][1], 1);
    bench_one(1536, 576, 32);
}

int main(int argc, char **argv)
{
    if (argc == 6 && !strcmp(argv[1], "--tile")) return tile_file(atoi(argv[2]), atoi(argv[3]), argv[4], argv[5]);
    if (argc == 3 && !strcmp(argv[1], "--dump")) return dump_file(argv[2]);
    printf("EDGEC_TERNARY_I16_ISA=%s\n", EDGEC_TERNARY_I16_ISA);
    if (argc > 1 && !strcmp(argv[1], "--bench")) {
        bench();
        return 0;
    }
    test_layout_by_hand();
    test_exact_extremes();
    test_all();
    return check_summary();
}
