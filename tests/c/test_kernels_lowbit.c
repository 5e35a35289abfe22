/* test_kernels_lowbit.c - checks runtime/core/kernels/lowbit.h (q2 / q3) against references.
 *
 * Build (from the repository root), e.g.:
 *   gcc -std=c11 -O2 -march=native -Wall -Wextra -Werror -Iruntime tests/c/test_kernels_lowbit.c -o test_kernels_lowbit -lm
 * Run: ./test_kernels_lowbit                 self-checks; prints "N passed, M failed" last, exit 1 on any failure
 *      ./test_kernels_lowbit --case IN OUT   runs one case written by tests/test_lowbit_formats.py (numpy
 *                                            checks the results against its own integer formula)
 *      ./test_kernels_lowbit --bench         times 1536x576 matvecs and batches (not run by the tests)
 *
 * Self-checks: weights are random codes and fp16 scales written by this file's own encoder from the
 * layout's definition; the references decode the bytes with this file's own decoder and sum in
 * double, so nothing checked here is computed by the code under test.
 *
 * Case file (little-endian): int32 fmt (2 or 3), rows, n, n_tok; rows * n/32 weight blocks; n_tok * n/32
 * q8a blocks (float d, float s, int8 qs[32]).  Output: float32 out[n_tok][rows] of the dispatched
 * kernel, then the same from the scalar kernel, then get_row of every row [rows][n].
 */
#define TEST_RNG_SEED 0x10b1750ddba11005ull
#include "test_blocks.h"

/* ---- the formats: this test's encoder (codes -> bytes) and decoder (bytes -> codes) ------- */


typedef struct {
    const char *name;
    int bits;         /* 2 or 3 */
    int block_bytes;
    rowmajor_matmul_fn mm, mm_scalar;
    rowmajor_get_row_fn get_row;
} format;

static const format formats[] = {
    {"q2", 2, 12, edgec_matmul_q2, edgec_scalar_matmul_q2, edgec_get_row_q2},
    {"q3", 3, 16, edgec_matmul_q3, edgec_scalar_matmul_q3, edgec_get_row_q3},
};
#define N_FORMATS (int)(sizeof formats / sizeof formats[0])

/* Writes one block: d, m, then qs[8] (bits 2*(j/8) of byte j%8 = low 2 bits of code j) and for
 * q3 qh[4] (bit j%8 of byte j/8 = bit 2 of code j). */
static void encode_block(const format *f, const int *codes, uint16_t d, uint16_t m, uint8_t *blk)
{
    memset(blk, 0, (size_t)f->block_bytes);
    wr16(blk, d);
    wr16(blk + 2, m);
    for (int j = 0; j < 32; j++) {
        blk[4 + j % 8] |= (uint8_t)((codes[j] & 3) << (2 * (j / 8)));
        if (f->bits == 3) blk[12 + j / 8] |= (uint8_t)(((codes[j] >> 2) & 1) << (j % 8));
    }
}

/* Code of weight j of a block, from its bytes. */
static int decode_code(const format *f, const uint8_t *blk, int j)
{
    int q = (blk[4 + j % 8] >> (2 * (j / 8))) & 3;
    if (f->bits == 3) q += 4 * ((blk[12 + j / 8] >> (j % 8)) & 1);
    return q;
}

/* Fills rows x n weights with random codes and fp16 d, m (some blocks constant, some with m = 0)
 * and decodes them into wd (double). */
static void make_weights(const format *f, uint8_t *w, double *wd, int rows, int n)
{
    const int nb = n / 32, max_code = (1 << f->bits) - 1;
    int codes[32];
    for (int r = 0; r < rows; r++)
        for (int b = 0; b < nb; b++) {
            int kind = (int)(rng_u64() % 8); /* 0: all one code, 1: extremes only, else uniform */
            int one = (int)(rng_u64() % (uint64_t)(max_code + 1));
            for (int j = 0; j < 32; j++)
                codes[j] = kind == 0 ? one : kind == 1 ? (int)(rng_u64() % 2) * max_code : (int)(rng_u64() % (uint64_t)(max_code + 1));
            uint8_t *blk = w + ((size_t)r * nb + b) * f->block_bytes;
            encode_block(f, codes, random_half_scale(), rng_u64() % 4 ? random_half_scale() : 0, blk);
            double d = ref_half(rd16(blk)), m = ref_half(rd16(blk + 2));
            int bad = 0;
            for (int j = 0; j < 32; j++) {
                int c = decode_code(f, blk, j);
                bad += c != codes[j];
                wd[(size_t)r * n + (size_t)b * 32 + j] = d * c + m;
            }
            if (bad) check(0, "%s: this test's encoder and decoder disagree on %d codes", f->name, bad);
        }
}

/* ---- matmul ------------------------------------------------------------------------------ */

/* One format x shape: several row sub-ranges, all tokens, against the double reference
 * sum_j (d*q_j + m) * d_x*qx_j, within 1e-5 of sum |terms|. */
static void test_matmul_shape(const format *f, int n, int rows, int n_tok)
{
    const size_t rb = (size_t)n / 32 * f->block_bytes;
    uint8_t *wbuf = malloc(rows * rb + 8);
    uint8_t *w = wbuf + 3; /* rows at odd addresses: kernels must not assume alignment */
    double *wd = malloc(sizeof(double) * (size_t)rows * n);
    make_weights(f, w, wd, rows, n);
    check_rowmajor_kernels(f->name, EDGEC_LOWBIT_ISA, f->mm, f->mm_scalar, f->get_row, w, wd, rows, n, n_tok);
    free(wbuf); free(wd);
}

static void test_matmul(void)
{
    /* every tail of the 8-block (AVX-512) and 4-block (AVX2, NEON) chunks: 1..9 blocks, 576 = 18 blocks,
     * 1536 = 48 (exactly one AVX slab), 1568 = 49 (a second slab of one block) */
    static const int ns[] = {32, 64, 96, 128, 160, 192, 224, 256, 288, 576, 1536, 1568};
    static const int rows[] = {1, 5, 19}, toks[] = {1, 3, 9, 32};
    for (int fi = 0; fi < N_FORMATS; fi++)
        for (int a = 0; a < (int)(sizeof ns / sizeof ns[0]); a++)
            for (int b = 0; b < 3; b++)
                for (int c = 0; c < 4; c++) test_matmul_shape(&formats[fi], ns[a], rows[b], toks[c]);
}

/* Exact case: d_w = d_x = 1, m = 1, so every kernel must return sum(q*qx) + sum(qx) exactly, with
 * qx at +-127 and codes at the format's extremes (the int16 edge of the maddubs / smull paths). */
static void test_exact_extremes(void)
{
    enum { N = 512 };
    for (int fi = 0; fi < N_FORMATS; fi++) {
        const format *f = &formats[fi];
        const int max_code = (1 << f->bits) - 1;
        uint8_t w[N / 32 * 16];
        edgec_block_q8a xq[N / 32];
        int codes[32];
        long want = 0;
        for (int b = 0; b < N / 32; b++) {
            xq[b].d = 1.0f;
            int sum = 0;
            for (int j = 0; j < 32; j++) {
                xq[b].qs[j] = (int8_t)((j + b) % 5 == 0 ? -127 : 127);
                sum += xq[b].qs[j];
            }
            xq[b].s = (float)sum;
            for (int j = 0; j < 32; j++) {
                codes[j] = (j * 7 + b) % 3 == 0 ? (j + b) % (max_code + 1) : max_code;
                want += (long)codes[j] * xq[b].qs[j] + xq[b].qs[j];
            }
            encode_block(f, codes, 0x3c00 /* 1.0 */, 0x3c00, w + (size_t)b * f->block_bytes);
        }
        float out = 0, out_scalar = 0;
        f->mm(&out, 1, w, 0, 1, xq, 1, N);
        f->mm_scalar(&out_scalar, 1, w, 0, 1, xq, 1, N);
        check(out == (float)want && out_scalar == (float)want, "%s exact sum: got %g (%s), %g (scalar), want %ld",
              f->name, out, EDGEC_LOWBIT_ISA, out_scalar, want);
    }
}

/* The matmul of a 1-row matrix whose code j is 1 only at one weight picks out that activation:
 * catches a wrong weight order that the random tests' sums could hide behind their tolerance. */
static void test_one_hot(void)
{
    enum { N = 256 };
    edgec_block_q8a xq[N / 32];
    for (int b = 0; b < N / 32; b++) {
        int sum = 0;
        for (int j = 0; j < 32; j++) {
            xq[b].qs[j] = (int8_t)(((b * 32 + j) * 37) % 251 - 125);
            sum += xq[b].qs[j];
        }
        xq[b].d = 1.0f;
        xq[b].s = (float)sum;
    }
    for (int fi = 0; fi < N_FORMATS; fi++) {
        const format *f = &formats[fi];
        int bad = 0;
        for (int hot = 0; hot < N; hot++) {
            uint8_t w[N / 32 * 16];
            int codes[32];
            for (int b = 0; b < N / 32; b++) {
                for (int j = 0; j < 32; j++) codes[j] = b * 32 + j == hot ? (1 << f->bits) - 1 : 0;
                encode_block(f, codes, 0x3c00, 0, w + (size_t)b * f->block_bytes);
            }
            float out = 0;
            f->mm(&out, 1, w, 0, 1, xq, 1, N);
            bad += out != (float)(((1 << f->bits) - 1) * xq[hot / 32].qs[hot % 32]);
        }
        check(!bad, "%s one-hot rows: %d of %d pick the wrong activation (%s)", f->name, bad, N, EDGEC_LOWBIT_ISA);
    }
}

/* ---- a case from the Python test -------------------------------------------------------- */

static int read_all(FILE *fp, void *p, size_t n) { return fread(p, 1, n, fp) == n; }

static int run_case(const char *in_path, const char *out_path)
{
    FILE *fp = fopen(in_path, "rb");
    int32_t hdr[4];
    if (!fp || !read_all(fp, hdr, sizeof hdr)) return fprintf(stderr, "cannot read %s\n", in_path), 2;
    const format *f = hdr[0] == 2 ? &formats[0] : hdr[0] == 3 ? &formats[1] : NULL;
    const int rows = hdr[1], n = hdr[2], n_tok = hdr[3], nb = n / 32;
    if (!f || rows <= 0 || n <= 0 || n % 32 || n_tok <= 0) return fprintf(stderr, "bad case header\n"), 2;
    const size_t wbytes = (size_t)rows * nb * f->block_bytes;
    uint8_t *wbuf = malloc(wbytes + 1), *w = wbuf + 1; /* at an odd address */
    edgec_block_q8a *xq = malloc(sizeof *xq * (size_t)nb * n_tok);
    float *out = malloc(sizeof(float) * (size_t)rows * n_tok), *row = malloc(sizeof(float) * (size_t)n);
    if (!read_all(fp, w, wbytes) || !read_all(fp, xq, sizeof *xq * (size_t)nb * n_tok)) return fprintf(stderr, "short case file\n"), 2;
    fclose(fp);
    FILE *o = fopen(out_path, "wb");
    if (!o) return fprintf(stderr, "cannot write %s\n", out_path), 2;
    f->mm(out, rows, w, 0, rows, xq, n_tok, n);
    fwrite(out, sizeof(float), (size_t)rows * n_tok, o);
    f->mm_scalar(out, rows, w, 0, rows, xq, n_tok, n);
    fwrite(out, sizeof(float), (size_t)rows * n_tok, o);
    for (int r = 0; r < rows; r++) {
        f->get_row(row, w, r, n);
        fwrite(row, sizeof(float), (size_t)n, o);
    }
    fclose(o);
    free(wbuf); free(xq); free(out); free(row);
    return 0;
}

/* ---- benchmark ------------------------------------------------------------------------------ */

/* rows x n weights times n_tok tokens, the fastest of many calls: weight GB/s and MAC rate. */
static void bench_one(const format *f, int rows, int n, int n_tok)
{
    const size_t rb = (size_t)n / 32 * f->block_bytes;
    uint8_t *w = malloc(rows * rb);
    double *wd = malloc(sizeof(double) * (size_t)rows * n);
    float *x = malloc(sizeof(float) * (size_t)n * n_tok), *out = malloc(sizeof(float) * (size_t)rows * n_tok);
    edgec_block_q8a *xq = malloc(sizeof(edgec_block_q8a) * (size_t)(n / 32) * n_tok);
    make_weights(f, w, wd, rows, n);
    fill_random(x, n * n_tok);
    for (int t = 0; t < n_tok; t++) edgec_quantize_q8a(x + (size_t)t * n, xq + (size_t)t * (n / 32), n);
    double best = 1e30;
    int reps = (int)(4e8 / ((double)rows * n * n_tok)) + 20;
    for (int i = 0; i < reps; i++) {
        double t0 = now_s();
        f->mm(out, rows, w, 0, rows, xq, n_tok, n);
        double dt = now_s() - t0;
        best = dt < best ? dt : best;
    }
    printf("%-3s %5d x %-5d n_tok=%-2d %8.1f us  %6.2f GB/s  %6.2f Gweights*tok/s (%s)\n", f->name, rows, n, n_tok,
           best * 1e6, (double)rows * rb / best / 1e9, (double)rows * n * n_tok / best / 1e9, EDGEC_LOWBIT_ISA);
    free(w); free(wd); free(x); free(out); free(xq);
}

int main(int argc, char **argv)
{
    printf("EDGEC_LOWBIT_ISA=%s\n", EDGEC_LOWBIT_ISA);
    if (argc == 4 && !strcmp(argv[1], "--case")) return run_case(argv[2], argv[3]);
    if (argc > 1 && !strcmp(argv[1], "--bench")) {
        for (int fi = 0; fi < N_FORMATS; fi++) {
            bench_one(&formats[fi], 1536, 576, 1);
            bench_one(&formats[fi], 576, 1536, 1);
            bench_one(&formats[fi], 1536, 576, 32);
        }
        return 0;
    }
    test_exact_extremes();
    test_one_hot();
    test_matmul();
    return check_summary();
}
