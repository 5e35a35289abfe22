/* test_kernels_shapes.c - one weight matrix of a model's shape through a kernel, every output checked.
 *
 * Run: ./test_kernels_shapes FMT ROWS N TOKENS WEIGHTS [TILES]
 *   FMT      q4_0, q4_1, q8_0, tq2, tq2_0 or tq1_0
 *   TOKENS   token counts, comma-separated (1,5): one matmul each
 *   WEIGHTS  the ROWS x N matrix as row-major blocks (written by the Python test: random bytes, sane scales)
 *   TILES    the same matrix in the i16 layout (edgec.plan.interleave_layout.relayout's bytes): checks the
 *            i16 kernel (q4_0, q4_1, q8_0); without it, the row-major kernel on WEIGHTS
 * Prints the kernel family's ISA line, then "N passed, M failed" (one check per output; exit 1 on any failure).
 *
 * Every output is checked against the row-major scalar decoder (edgec_get_row_*, exact) times the q8a
 * activations, in double; a call on a worker's share of the rows (16-row groups for i16) must write only
 * those rows, with the same bits as the whole call; the kernel's weights and the activations end flush
 * against a PROT_NONE page, so a read past either ends the run.
 */
#include "guarded.h"
#define TEST_RNG_SEED 0x5eed1234abcd0005ull
#include "test_blocks.h"

typedef void (*i16_matmul_fn)(float *, int, const void *, int, int, int, const edgec_block_q8a *, int, int);

typedef struct {
    const char *name;
    int block_weights, block_bytes;
    rowmajor_matmul_fn rowmajor;
    rowmajor_get_row_fn get_row;
    const char *rowmajor_isa; /* the ISA line of the row-major kernel's family */
    i16_matmul_fn i16;        /* NULL: no i16 layout */
    int tile_bytes;           /* i16 bytes per 16 rows x 32 columns */
} format;

#define I16_ISA_LINE "EDGEC_I16_ISA=" EDGEC_I16_ISA

static const format formats[] = {
    {"q4_0", 32, 18, edgec_matmul_q4_0, edgec_get_row_q4_0, "EDGEC_KERNELS_ISA=" EDGEC_KERNELS_ISA, edgec_matmul_i16_q4_0, 288},
    {"q4_1", 32, 20, edgec_matmul_q4_1, edgec_get_row_q4_1, "EDGEC_KERNELS_ISA=" EDGEC_KERNELS_ISA, edgec_matmul_i16_q4_1, 320},
    {"q8_0", 32, 34, edgec_matmul_q8_0, edgec_get_row_q8_0, "EDGEC_KERNELS_ISA=" EDGEC_KERNELS_ISA, edgec_matmul_i16_q8_0, 544},
    {"tq2", 64, 18, edgec_matmul_tq2, edgec_get_row_tq2, "EDGEC_TERNARY_ISA=" EDGEC_TERNARY_ISA, NULL, 0},
    {"tq2_0", 256, 66, edgec_matmul_tq2_0, edgec_get_row_tq2_0, "EDGEC_TERNARY_ISA=" EDGEC_TERNARY_ISA, NULL, 0},
    {"tq1_0", 256, 54, edgec_matmul_tq1_0, edgec_get_row_tq1_0, "EDGEC_TERNARY_ISA=" EDGEC_TERNARY_ISA, NULL, 0},
};

/* The matrix under test: its kernel's weights, and every row decoded (exact) for the reference. */
typedef struct {
    const format *f;
    int rows, n, unit; /* unit: rows per index of the kernel's range (16 for i16 groups, 1 row-major) */
    const void *w;     /* what the kernel reads, flush against a guard page */
    float *wrow;
} matrix;

/* out[t * ldo + r] for the units [u0, u1), by the layout's kernel. */
static void matmul(const matrix *m, float *out, int ldo, int u0, int u1, const edgec_block_q8a *xq, int n_tok)
{
    if (m->unit > 1) m->f->i16(out, ldo, m->w, u0, u1, m->rows, xq, n_tok, m->n);
    else m->f->rowmajor(out, ldo, m->w, u0, u1, xq, n_tok, m->n);
}

/* Reads bytes of the file at path into dst (exits when it cannot). */
static void *load(const char *path, size_t bytes, void *dst)
{
    if (!read_file(path, dst, bytes)) {
        fprintf(stderr, "cannot read %zu bytes of %s\n", bytes, path);
        exit(2);
    }
    return dst;
}

/* Random activations for n_tok tokens (every 32nd column 8x larger), quantized by the code under test. */
static edgec_block_q8a *activations(int n, int n_tok)
{
    edgec_block_q8a *xq = guarded(sizeof(edgec_block_q8a) * (size_t)(n / 32) * n_tok);
    float *x = malloc(sizeof(float) * (size_t)n);
    for (int t = 0; t < n_tok; t++) {
        for (int j = 0; j < n; j++) x[j] = rng_float() * (j % 32 == 5 ? 8.0f : 1.0f);
        edgec_quantize_q8a(x, xq + (size_t)t * (n / 32), n);
    }
    free(x);
    return xq;
}

/* One matmul of n_tok tokens, whole and on a worker's share: counts checks and failures. */
static void check_tokens(const matrix *m, int n_tok, int *checks, int *bad)
{
    const int rows = m->rows, n = m->n, nb = n / 32, ldo = rows + 3, units = (rows + m->unit - 1) / m->unit;
    const edgec_block_q8a *xq = activations(n, n_tok);
    float *out = malloc(sizeof(float) * (size_t)ldo * n_tok), *part = malloc(sizeof(float) * (size_t)ldo * n_tok);
    for (size_t i = 0; i < (size_t)ldo * n_tok; i++) out[i] = part[i] = POISON;
    matmul(m, out, ldo, 0, units, xq, n_tok);
    const int u0 = units > 2 ? 1 : 0, u1 = units > 2 ? units - 1 : units; /* a worker's share */
    matmul(m, part, ldo, u0, u1, xq, n_tok);
    int bad_here = 0, stray = 0;
    for (int t = 0; t < n_tok; t++)
        for (int r = 0; r < ldo; r++) {
            const float o = out[(size_t)t * ldo + r], op = part[(size_t)t * ldo + r];
            if (r >= rows) {
                stray += o != POISON || op != POISON;
                continue;
            }
            if (r < m->unit * u0 || r >= m->unit * u1) stray += op != POISON;
            else stray += memcmp(&o, &op, sizeof o) != 0; /* a row's result must not depend on the range */
            const float *w = m->wrow + (size_t)r * n;
            double s = 0, mag = 0;
            for (int j = 0; j < n; j++) {
                const edgec_block_q8a *xb = xq + (size_t)t * nb + j / 32;
                const double term = (double)w[j] * ((double)xb->d * xb->qs[j % 32]);
                s += term;
                mag += fabs(term);
            }
            ++*checks;
            if (!(fabs(o - s) <= 1e-5 * mag + 1e-30) && bad_here++ < 5)
                printf("FAIL: %s %dx%d n_tok=%d row %d token %d: %.9g, want %.9g\n", m->f->name, rows, n, n_tok, r, t, o, s);
        }
    if (stray) printf("FAIL: %s %dx%d n_tok=%d: %d outputs written outside the range or range-dependent\n", m->f->name, rows, n, n_tok, stray);
    *bad += bad_here + stray;
    free(out); free(part);
}

int main(int argc, char **argv)
{
    const format *f = NULL;
    for (size_t i = 0; argc >= 6 && i < sizeof formats / sizeof formats[0]; i++)
        if (!strcmp(argv[1], formats[i].name)) f = &formats[i];
    const int tiled = argc == 7;
    if (!f || argc > 7 || (tiled && !f->i16)) {
        fprintf(stderr, "usage: FMT ROWS N TOKENS(1,5,..) WEIGHTS [TILES (q4_0, q4_1, q8_0)]\n");
        return 2;
    }
    matrix m = {f, atoi(argv[2]), atoi(argv[3]), tiled ? 16 : 1, NULL, NULL};
    const size_t wbytes = (size_t)m.rows * (m.n / f->block_weights) * f->block_bytes;
    const size_t tbytes = tiled ? (size_t)((m.rows + 15) / 16) * (m.n / 32) * f->tile_bytes : 0;
    const uint8_t *w = load(argv[5], wbytes, tiled ? malloc(wbytes) : guarded(wbytes));
    m.w = tiled ? load(argv[6], tbytes, guarded(tbytes)) : w;
    m.wrow = malloc(sizeof(float) * (size_t)m.rows * m.n); /* every row decoded once, exact */
    for (int r = 0; r < m.rows; r++) f->get_row(m.wrow + (size_t)r * m.n, w, r, m.n);
    printf("%s\n", tiled ? I16_ISA_LINE : f->rowmajor_isa);
    int checks = 0, bad = 0;
    for (const char *p = argv[4]; *p; p += strcspn(p, ","), p += *p == ',') check_tokens(&m, atoi(p), &checks, &bad);
    n_passed = checks - bad;
    n_failed = bad;
    return check_summary();
}
