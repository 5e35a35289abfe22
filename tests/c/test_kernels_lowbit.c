/* test_kernels_lowbit.c - checks runtime/core/kernels/lowbit.h (q2 / q3) against references.
 *
 * Build (from the repository root), e.g.:
 *   gcc -std=c11 -O2 -march=native -Wall -Wextra -Werror -Iruntime/core tests/c/test_kernels_lowbit.c -o test_kernels_lowbit -lm
 * Run: ./test_kernels_lowbit                 self-checks; prints "N passed, M failed" last, exit 1 on any failure
 *      ./test_kernels_lowbit --case IN OUT   runs one case written by tests/formats/test_lowbit_formats.py (numpy
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

typedef rowmajor_format format;

static int is_q3(const format *f) { return f->max_code == 7; }

/* Writes one block: d, m, then qs[8] (bits 2*(j/8) of byte j%8 = low 2 bits of code j) and for
 * q3 qh[4] (bit j%8 of byte j/8 = bit 2 of code j). */
static void encode_block(const format *f, const int *codes, uint16_t d, uint16_t m, uint8_t *blk)
{
    memset(blk, 0, (size_t)f->block_bytes);
    wr16(blk, d);
    wr16(blk + 2, m);
    for (int j = 0; j < 32; j++) {
        blk[4 + j % 8] |= (uint8_t)((codes[j] & 3) << (2 * (j / 8)));
        if (is_q3(f)) blk[12 + j / 8] |= (uint8_t)(((codes[j] >> 2) & 1) << (j % 8));
    }
}

/* Code of weight j of a block, from its bytes. */
static int decode_code(const format *f, const uint8_t *blk, int j)
{
    int q = (blk[4 + j % 8] >> (2 * (j / 8))) & 3;
    if (is_q3(f)) q += 4 * ((blk[12 + j / 8] >> (j % 8)) & 1);
    return q;
}

/* Fills rows x n weights with random codes and fp16 d, m (some blocks constant, some with m = 0)
 * and decodes them into wd (double). */
static void make_weights(const format *f, uint8_t *w, double *wd, int rows, int n)
{
    const int nb = n / 32, max_code = f->max_code;
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

/* q2: 2-bit codes 0..3, q3: 3-bit codes 0..7 */
static const format formats[] = {
    {"q2", 32, 12, 3, edgec_matmul_q2, edgec_scalar_matmul_q2, edgec_get_row_q2, make_weights},
    {"q3", 32, 16, 7, edgec_matmul_q3, edgec_scalar_matmul_q3, edgec_get_row_q3, make_weights},
};
#define N_FORMATS (int)(sizeof formats / sizeof formats[0])

/* ---- matmul ------------------------------------------------------------------------------ */

/* Every format x shape against the double reference sum_j (d*q_j + m) * d_x*qx_j, within 1e-5 of sum |terms|. */
static void test_matmul(void)
{
    /* every tail of the 8-block (AVX-512) and 4-block (AVX2, NEON) chunks: 1..9 blocks, 576 = 18 blocks,
     * 1536 = 48 (exactly one AVX slab), 1568 = 49 (a second slab of one block) */
    static const int ns[] = {32, 64, 96, 128, 160, 192, 224, 256, 288, 576, 1536, 1568};
    static const int rows[] = {1, 5, 19}, toks[] = {1, 3, 9, 32};
    for (int fi = 0; fi < N_FORMATS; fi++)
        for (int a = 0; a < (int)(sizeof ns / sizeof ns[0]); a++)
            for (int b = 0; b < 3; b++)
                for (int c = 0; c < 4; c++) check_rowmajor_kernels(&formats[fi], EDGEC_LOWBIT_ISA, ns[a], rows[b], toks[c]);
}

/* Exact case: d_w = d_x = 1, m = 1, so every kernel must return sum(q*qx) + sum(qx) exactly, with
 * qx at +-127 and codes at the format's extremes (the int16 edge of the maddubs / smull paths). */
static void test_exact_extremes(void)
{
    enum { N = 512 };
    for (int fi = 0; fi < N_FORMATS; fi++) {
        const format *f = &formats[fi];
        const int max_code = f->max_code;
        uint8_t w[N / 32 * 16];
        edgec_block_q8a xq[N / 32];
        int codes[32];
        long want = 0;
        plus_minus_127_activations(xq, N / 32, 5);
        for (int b = 0; b < N / 32; b++) {
            for (int j = 0; j < 32; j++) {
                codes[j] = (j * 7 + b) % 3 == 0 ? (j + b) % (max_code + 1) : max_code;
                want += (long)codes[j] * xq[b].qs[j] + xq[b].qs[j];
            }
            encode_block(f, codes, 0x3c00 /* 1.0 */, 0x3c00, w + (size_t)b * f->block_bytes);
        }
        check_exact_row(f, EDGEC_LOWBIT_ISA, w, xq, N, want);
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
                for (int j = 0; j < 32; j++) codes[j] = b * 32 + j == hot ? f->max_code : 0;
                encode_block(f, codes, 0x3c00, 0, w + (size_t)b * f->block_bytes);
            }
            float out = 0;
            f->mm(&out, 1, w, 0, 1, xq, 1, N);
            bad += out != (float)(f->max_code * xq[hot / 32].qs[hot % 32]);
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

int main(int argc, char **argv)
{
    printf("EDGEC_LOWBIT_ISA=%s\n", EDGEC_LOWBIT_ISA);
    if (argc == 4 && !strcmp(argv[1], "--case")) return run_case(argv[2], argv[3]);
    if (argc > 1 && !strcmp(argv[1], "--bench")) {
        for (int fi = 0; fi < N_FORMATS; fi++) {
            bench_rowmajor_format(&formats[fi], EDGEC_LOWBIT_ISA, 1536, 576, 1);
            bench_rowmajor_format(&formats[fi], EDGEC_LOWBIT_ISA, 576, 1536, 1);
            bench_rowmajor_format(&formats[fi], EDGEC_LOWBIT_ISA, 1536, 576, 32);
        }
        return 0;
    }
    test_exact_extremes();
    test_one_hot();
    test_matmul();
    return check_summary();
}
