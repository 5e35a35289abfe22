/* test_kernels_ternary.c - checks runtime/core/kernels/ternary.h against double-precision references.
 *
 * Build (from the repository root), e.g.:
 *   gcc -std=c11 -O2 -march=native -Wall -Wextra -Werror -Iruntime/core tests/c/test_kernels_ternary.c -o test_kernels_ternary -lm
 * Run: ./test_kernels_ternary           (prints "N passed, M failed" last, exit status 1 on any failure)
 *      ./test_kernels_ternary --bench   (times 1536x576 tq2 matvecs and reports GB/s; not run by the tests)
 *
 * Weights are random codes and scales written by this file's own encoders (TQ1_0's base-3 packing
 * as gguf.quants writes it); the references decode the bytes with this file's own decoders, so
 * nothing checked here is computed by the code under test.
 */
#define TEST_RNG_SEED 0x7e4a5a11c0de0003ull
#include "test_blocks.h"
#include "kernels/ternary.h"

/* ---- the formats: this test's encoders (codes -> bytes) and decoders (bytes -> codes) ---- */

typedef rowmajor_format format;

static int is(const format *f, const char *name) { return !strcmp(f->name, name); }

/* TQ1_0 byte of base-3 digits c[0..k) (c[0] most significant), as gguf.quants.TQ1_0 packs it:
 * the number v = sum c[i] * 3^(k-1-i), scaled to 5 digits, stored as ceil(v * 256 / 243). */
static uint8_t tq1_pack(const int *c, int k)
{
    int v = 0;
    for (int i = 0; i < k; i++) v = v * 3 + c[i];
    for (int i = k; i < 5; i++) v *= 3;
    return (uint8_t)((v * 256 + 242) / 243);
}

/* Digit i (0 = most significant) of a TQ1_0 byte: the fraction q/256 times 3^(i+1), mod 3. */
static int tq1_unpack(uint8_t q, int i)
{
    unsigned pow = 1;
    for (int k = 0; k < i; k++) pow *= 3;
    return (int)(((q * pow) % 256) * 3 / 256);
}

/* Writes one block of codes[0..block) with scale bits d. */
static void encode_block(const format *f, const int *codes, uint16_t d, uint8_t *blk)
{
    memset(blk, 0, (size_t)f->block_bytes);
    if (is(f, "tq2")) { /* d, then qs[16]: code j in byte j % 16 at bits 2*(j / 16) */
        wr16(blk, d);
        for (int j = 0; j < 64; j++) blk[2 + j % 16] |= (uint8_t)(codes[j] << (2 * (j / 16)));
    } else if (is(f, "tq2_0")) { /* qs[64]: code j in byte 32*(j/128) + j%32 at bits 2*((j/32)%4); d */
        for (int j = 0; j < 256; j++) blk[32 * (j / 128) + j % 32] |= (uint8_t)(codes[j] << (2 * ((j / 32) % 4)));
        wr16(blk + 64, d);
    } else { /* qs[32]: codes i + 32k; qs[32..47]: codes 160 + i + 16k; qh[4]: codes 240 + i + 4k; d */
        int c[5];
        for (int i = 0; i < 32; i++) {
            for (int k = 0; k < 5; k++) c[k] = codes[i + 32 * k];
            blk[i] = tq1_pack(c, 5);
        }
        for (int i = 0; i < 16; i++) {
            for (int k = 0; k < 5; k++) c[k] = codes[160 + i + 16 * k];
            blk[32 + i] = tq1_pack(c, 5);
        }
        for (int i = 0; i < 4; i++) {
            for (int k = 0; k < 4; k++) c[k] = codes[240 + i + 4 * k];
            blk[48 + i] = tq1_pack(c, 4);
        }
        wr16(blk + 52, d);
    }
}

/* Code of weight j of a block, from its bytes. */
static int decode_code(const format *f, const uint8_t *blk, int j)
{
    if (is(f, "tq2")) return (blk[2 + j % 16] >> (2 * (j / 16))) & 3;
    if (is(f, "tq2_0")) return (blk[32 * (j / 128) + j % 32] >> (2 * ((j / 32) % 4))) & 3;
    if (j < 160) return tq1_unpack(blk[j % 32], j / 32);
    if (j < 240) return tq1_unpack(blk[32 + (j - 160) % 16], (j - 160) / 16);
    return tq1_unpack(blk[48 + (j - 240) % 4], (j - 240) / 4);
}

static uint16_t block_d(const format *f, const uint8_t *blk)
{
    return rd16(blk + (is(f, "tq2") ? 0 : is(f, "tq2_0") ? 64 : 52));
}

/* Fills rows x n weights with random codes (code 3 now and then where the format allows it)
 * and scales, and decodes them into wd (double). */
static void make_weights(const format *f, uint8_t *w, double *wd, int rows, int n)
{
    const int nbk = n / f->block_weights;
    int codes[256];
    for (int r = 0; r < rows; r++)
        for (int b = 0; b < nbk; b++) {
            int zero_share = (int)(rng_u64() % 3); /* some blocks mostly zero, some dense */
            for (int j = 0; j < f->block_weights; j++) {
                uint64_t u = rng_u64() % 100;
                codes[j] = u < (uint64_t)(20 * zero_share) ? 1 : (int)(u % 3);
                if (f->max_code == 3 && u == 99) codes[j] = 3;
            }
            uint8_t *blk = w + ((size_t)r * nbk + b) * f->block_bytes;
            encode_block(f, codes, random_half_scale(), blk);
            double d = ref_half(block_d(f, blk));
            int bad = 0;
            for (int j = 0; j < f->block_weights; j++) {
                int c = decode_code(f, blk, j);
                bad += c != codes[j];
                wd[(size_t)r * n + (size_t)b * f->block_weights + j] = d * (c - 1);
            }
            if (bad) check(0, "%s: this test's encoder and decoder disagree on %d codes", f->name, bad);
        }
}

/* max_code: GGUF TQ2_0 may hold code 3 (= 2d in ggml); the other formats write 0..2 */
static const format formats[] = {
    {"tq2", 64, 18, 2, edgec_matmul_tq2, edgec_scalar_matmul_tq2, edgec_get_row_tq2, make_weights},
    {"tq2_0", 256, 66, 3, edgec_matmul_tq2_0, edgec_scalar_matmul_tq2_0, edgec_get_row_tq2_0, make_weights},
    {"tq1_0", 256, 54, 2, edgec_matmul_tq1_0, edgec_scalar_matmul_tq1_0, edgec_get_row_tq1_0, make_weights},
};
#define N_FORMATS (int)(sizeof formats / sizeof formats[0])

/* ---- matmul ------------------------------------------------------------------------------ */

/* Every format x shape: several row sub-ranges, all tokens, against the double reference. */
static void test_matmul(void)
{
    /* tq2: 64 (one block), 192 (a partial group of 3), 320 (odd block count), 576 (SmolLM2's dim: 2 groups + 1 block) */
    static const int ns_tq2[] = {64, 192, 320, 576, 1536}, ns_256[] = {256, 512, 1536};
    static const int rows[] = {1, 5, 19}, toks[] = {1, 3, 9, 32};
    for (int fi = 0; fi < N_FORMATS; fi++) {
        const format *f = &formats[fi];
        const int *ns = is(f, "tq2") ? ns_tq2 : ns_256;
        int n_ns = is(f, "tq2") ? 5 : 3;
        for (int a = 0; a < n_ns; a++)
            for (int b = 0; b < 3; b++)
                for (int c = 0; c < 4; c++) check_rowmajor_kernels(f, EDGEC_TERNARY_ISA, ns[a], rows[b], toks[c]);
        /* rows longer than one slab of prepared activations (32 groups of 256 for a single token) */
        check_rowmajor_kernels(f, EDGEC_TERNARY_ISA, 8448, 6, 1);
        check_rowmajor_kernels(f, EDGEC_TERNARY_ISA, 8448, 2, 9);
    }
}

/* Exact case: d_w = d_x = 1, so every kernel must return the integer sum((code-1)*qx) exactly,
 * with qx at +-127 (the int16 saturation edge of maddubs paths) and GGUF's code 3 included. */
static void test_exact_extremes(void)
{
    enum { N = 512 };
    for (int fi = 0; fi < N_FORMATS; fi++) {
        const format *f = &formats[fi];
        uint8_t w[N / 64 * 66];
        edgec_block_q8a xq[N / 32];
        int codes[256];
        long want = 0;
        plus_minus_127_activations(xq, N / 32, 3);
        for (int b = 0; b < N / f->block_weights; b++) {
            for (int j = 0; j < f->block_weights; j++) {
                codes[j] = (j * 7 + b) % (f->max_code + 1);
                int g = b * f->block_weights + j;
                want += (long)(codes[j] - 1) * xq[g / 32].qs[g % 32];
            }
            encode_block(f, codes, 0x3c00 /* 1.0 */, w + (size_t)b * f->block_bytes);
        }
        check_exact_row(f, EDGEC_TERNARY_ISA, w, xq, N, want);
    }
}

/* The TQ1_0 packing of every 5-digit number decodes back to its digits (gguf's ceil(v*256/243)). */
static void test_tq1_digits(void)
{
    int bad = 0;
    for (int v = 0; v < 243; v++) {
        int c[5] = {v / 81, v / 27 % 3, v / 9 % 3, v / 3 % 3, v % 3};
        uint8_t q = tq1_pack(c, 5);
        static const int pow3[5] = {1, 3, 9, 27, 81};
        for (int i = 0; i < 5; i++) bad += tq1_unpack(q, i) != c[i] || edgec_tq1_digit(q, pow3[i]) != c[i];
    }
    check(!bad, "tq1_0 base-3 digits: %d of 1215 decode wrongly", bad);
}

/* ---- benchmark ------------------------------------------------------------------------------ */

static void bench(void)
{
    for (int fi = 0; fi < N_FORMATS; fi++) {
        const format *f = &formats[fi];
        bench_rowmajor_format(f, EDGEC_TERNARY_ISA, 1536, is(f, "tq2") ? 576 : 768, 1);
        bench_rowmajor_format(f, EDGEC_TERNARY_ISA, 576, 1536, 1);
        bench_rowmajor_format(f, EDGEC_TERNARY_ISA, 1536, is(f, "tq2") ? 576 : 768, 32);
    }
    bench_rowmajor_format(&formats[0], EDGEC_TERNARY_ISA, 49152, 576, 1); /* SmolLM2's classifier, 14 MB: from L3 / DRAM */
}

int main(int argc, char **argv)
{
    printf("EDGEC_TERNARY_ISA=%s\n", EDGEC_TERNARY_ISA);
    if (argc > 1 && !strcmp(argv[1], "--bench")) {
        bench();
        return 0;
    }
    test_tq1_digits();
    test_exact_extremes();
    test_matmul();
    return check_summary();
}
