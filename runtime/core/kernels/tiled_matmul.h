/* kernels/tiled_matmul.h - the tiling driver of the chunked quantized matmuls (dense q8_0/q4_0/q4_1,
 * lowbit q2/q3, ternary), written once for every weight family and ISA; the ISA files hold only
 * the microkernels (chunk load/unpack, integer dot, scale fold, activation preparation).
 *
 * A template header: the includer defines the contract below and includes this file, which
 * defines EDGEC_TM_NAME(tile_step), _(tile_tail), _(tile), _(rows) and
 *   EDGEC_TM_NAME(matmul)(fmt, out, ldo, w, r0, r1, xq, n_tok, n)
 *     out[t*ldo + r] = dot(weight row r, q8a activations of token t), r in [r0, r1), t in [0, n_tok)
 * then #undefs the contract, so the next instantiation can include it again (no include guard).
 *
 * A weight row is a run of blocks (BLOCK_WEIGHTS(fmt) weights, BLOCK_BYTES(fmt) bytes each) taken
 * CHUNK_BLOCKS(fmt) at a time; its last chunk may be partial.  Tokens go in tiles of
 * BATCH_TOKENS(fmt) while that many remain, then one at a time; rows in tiles of BATCH_ROWS(fmt)
 * (batch) or MATVEC_ROWS(fmt) (one token), then single rows.  A tile keeps its R x T accumulators
 * in registers and folds each weight chunk it loads into all T tokens.  With XPREP the activations
 * are prepared once per call, SLAB(T) chunks per token at a time, on the stack, and every row tile
 * reads them from L1; each slab's partial dots are added to out (the first stored as 0 + dot).
 * Without XPREP the fold reads the q8a blocks as stored and a tile runs the whole row.  Per
 * accumulator the float operations come in chunk order, so the results do not depend on R or T.
 *
 * It is written over the ISA's vector layer (kernels/<isa>/vec.h, included first): a tile's
 * accumulators are edgec_vec, zeroed by edgec_vec_zero() and summed by edgec_vec_hsum() into the
 * row . token dot; which lanes hold what is the microkernels' business.  The contract (each name
 * is EDGEC_TM_<name>; "-> X": a function-like macro giving an X, usually a call of an
 * always-inline microkernel; fmt, R, T are compile-time constants after inlining):
 *   NAME(name)           the names of the functions defined here, e.g. edgec_avx2_##name
 *   WCHUNK               one row's weights for a chunk (or one part of it), unpacked
 *   XPREP                optional: one token's activations for a chunk, prepared for every row
 *   SLAB(T), SLAB_SLOTS  with XPREP: chunks per token per slab in T-token tiles, and the length of
 *                        the XPREP array on the stack (>= T * SLAB(T) for both tile widths)
 *   BATCH_TOKENS(fmt), BATCH_ROWS(fmt), MATVEC_ROWS(fmt)   tile shapes
 *   TILE_ROWS, TILE_TOKENS   optional (default EDGEC_TILE_ROWS/_TOKENS): bounds of the tile
 *                        arrays, >= every R and T above (smaller bounds keep NEON tiles in registers)
 *   BLOCK_WEIGHTS(fmt)   optional (default EDGEC_QK), a multiple of EDGEC_QK
 *   BLOCK_BYTES(fmt), CHUNK_BLOCKS(fmt)
 *   ROWS_FIRST           1: load the chunks of all R rows, then fold token by token (small chunks);
 *                        0: load and fold row by row (chunks too large for R of them in registers)
 *   PARTS(fmt)           optional (default 1), with ROWS_FIRST 0: a chunk is loaded and folded in
 *                        this many parts, each into every token before the next part is loaded
 *   TAIL_IN_LOOP         optional (default 0), code generation only: 1 walks the row by weight
 *                        block and tests each chunk for being the partial last one (what gcc 12
 *                        schedules without spills on NEON), 0 runs the full chunks, then the
 *                        partial one (fewer instructions per chunk on x86)
 *   LOAD_W(fmt, blk, count, part)   -> WCHUNK: part `part` of the `count` (1..CHUNK_BLOCKS) weight
 *                        blocks at blk; the blocks a partial chunk lacks must fold as zeros
 *   PREPARE(fmt, xp, x, count)      with XPREP: fills *xp from the activation blocks at x that meet
 *                        `count` weight blocks (those of missing weight blocks: zeros or unread)
 *   FOLD(fmt, acc, w, xp, x, count, part)   -> edgec_vec: acc plus (part `part` of) one row's chunk w
 *                        times one token's, whose chunk starts at q8a block x, prepared as *xp
 *                        (xp is a null void pointer without XPREP); `count` as in LOAD_W
 *   TAIL(fmt, R, T, acc, blk, row_bytes, xp, count)   optional -> int: may fold the row's partial
 *                        last chunk itself (row 0's blocks at blk, row i's at blk + i*row_bytes,
 *                        token 0's prepared chunk xp) and return nonzero, else return 0
 */

#define EDGEC_TM_ACTS(fmt) (EDGEC_TM_CHUNK_BLOCKS(fmt) * EDGEC_TM_BLOCK_WEIGHTS(fmt) / EDGEC_QK) /* q8a blocks per chunk */
#ifndef EDGEC_TM_TILE_ROWS
#define EDGEC_TM_TILE_ROWS EDGEC_TILE_ROWS
#endif
#ifndef EDGEC_TM_TILE_TOKENS
#define EDGEC_TM_TILE_TOKENS EDGEC_TILE_TOKENS
#endif
#ifndef EDGEC_TM_BLOCK_WEIGHTS
#define EDGEC_TM_BLOCK_WEIGHTS(fmt) EDGEC_QK
#endif
#ifndef EDGEC_TM_TAIL_IN_LOOP
#define EDGEC_TM_TAIL_IN_LOOP 0
#endif
#ifndef EDGEC_TM_PARTS
#define EDGEC_TM_PARTS(fmt) 1
#endif
#ifdef EDGEC_TM_XPREP
#define EDGEC_TM_XP EDGEC_TM_XPREP
#define EDGEC_TM_SLOT(xs, j, s) ((xs) + (j) * EDGEC_TM_SLAB(T) + (s))
#else
#define EDGEC_TM_XP void
#define EDGEC_TM_SLOT(xs, j, s) (xs)
#endif

/* Points x[j] at token j's first q8a block and xp[j] at its prepared chunk (slot s of the slab
 * xs) for the chunk from weight block b, in a tile of T tokens from t; the entries past T repeat
 * token 0 and are never read.  A macro, not an always-inline function: through a function (or
 * with these lines in another order) gcc 12's scheduler spills NEON's 2-row q3 tile (measured). */
#define EDGEC_TM_TOKEN_REFS(s, b)                                                                          \
    EDGEC_UNROLL for (int j_ = 0; j_ < EDGEC_TM_TILE_TOKENS; j_++) {                                       \
        const int jj_ = j_ < T ? j_ : 0;                                                                   \
        x[j_] = xq + (size_t)(t + jj_) * nb + (size_t)(b) * (EDGEC_TM_BLOCK_WEIGHTS(fmt) / EDGEC_QK);      \
        xp[j_] = EDGEC_TM_SLOT(xs, jj_, s);                                                                \
    }

/* Adds one chunk (`count` weight blocks) of R rows x T tokens to acc. */
EDGEC_ALWAYS_INLINE void EDGEC_TM_NAME(tile_step)(int fmt, int R, int T, edgec_vec acc[EDGEC_TM_TILE_ROWS][EDGEC_TM_TILE_TOKENS],
                                                  const uint8_t *const wb[EDGEC_TM_TILE_ROWS], const EDGEC_TM_XP *const xp[EDGEC_TM_TILE_TOKENS],
                                                  const edgec_block_q8a *const x[EDGEC_TM_TILE_TOKENS], int count)
{
    (void)fmt, (void)xp, (void)x, (void)count; /* a family's microkernels need not use them all */
#if EDGEC_TM_ROWS_FIRST
    EDGEC_TM_WCHUNK wc[EDGEC_TM_TILE_ROWS];
EDGEC_UNROLL
    for (int i = 0; i < EDGEC_TM_TILE_ROWS; i++)
        if (i < R) wc[i] = EDGEC_TM_LOAD_W(fmt, wb[i], count, 0);
EDGEC_UNROLL
    for (int j = 0; j < EDGEC_TM_TILE_TOKENS; j++)
EDGEC_UNROLL
        for (int i = 0; i < EDGEC_TM_TILE_ROWS; i++) {
            if (i >= R || j >= T) continue;
            acc[i][j] = EDGEC_TM_FOLD(fmt, acc[i][j], &wc[i], xp[j], x[j], count, 0);
        }
#else
EDGEC_UNROLL
    for (int i = 0; i < EDGEC_TM_TILE_ROWS; i++) {
        if (i >= R) continue;
EDGEC_UNROLL
        for (int p = 0; p < EDGEC_TM_PARTS(fmt); p++) {
            const EDGEC_TM_WCHUNK wc = EDGEC_TM_LOAD_W(fmt, wb[i], count, p);
EDGEC_UNROLL
            for (int j = 0; j < EDGEC_TM_TILE_TOKENS; j++)
                if (j < T) acc[i][j] = EDGEC_TM_FOLD(fmt, acc[i][j], &wc, xp[j], x[j], count, p);
        }
    }
#endif
}

/* The row's partial last chunk, `count` blocks (for chunks of 2 that is 1, a constant). */
EDGEC_ALWAYS_INLINE void EDGEC_TM_NAME(tile_tail)(int fmt, int R, int T, edgec_vec acc[EDGEC_TM_TILE_ROWS][EDGEC_TM_TILE_TOKENS],
                                                  const uint8_t *const wb[EDGEC_TM_TILE_ROWS], size_t row_bytes,
                                                  const EDGEC_TM_XP *const xp[EDGEC_TM_TILE_TOKENS],
                                                  const edgec_block_q8a *const x[EDGEC_TM_TILE_TOKENS], int count)
{
#ifdef EDGEC_TM_TAIL
    if (EDGEC_TM_TAIL(fmt, R, T, acc, wb[0], row_bytes, xp[0], count)) return;
#else
    (void)row_bytes;
#endif
    EDGEC_TM_NAME(tile_step)(fmt, R, T, acc, wb, xp, x, EDGEC_TM_CHUNK_BLOCKS(fmt) == 2 ? 1 : count);
}

/* Chunks [c0, c1) of an R x T tile (rows r.., tokens t..; xs = the slab, chunk c0 in slot 0):
 * stores the partial dots into out[(t+j)*ldo + r+i], or adds them to it for a later slab (add).
 * wb[i]: row i's first weight block of the chunk; entries past R repeat row 0, never read. */
EDGEC_ALWAYS_INLINE void EDGEC_TM_NAME(tile)(int fmt, int R, int T, float *out, int ldo, const uint8_t *w, size_t row_bytes, int r, int t,
                                             const edgec_block_q8a *xq, int nb, const EDGEC_TM_XP *xs, int c0, int c1, int n_blocks, int add)
{
    const int cb = EDGEC_TM_CHUNK_BLOCKS(fmt), bb = EDGEC_TM_BLOCK_BYTES(fmt);
    edgec_vec acc[EDGEC_TM_TILE_ROWS][EDGEC_TM_TILE_TOKENS];
    const uint8_t *wb[EDGEC_TM_TILE_ROWS];
    const edgec_block_q8a *x[EDGEC_TM_TILE_TOKENS];
    const EDGEC_TM_XP *xp[EDGEC_TM_TILE_TOKENS];
EDGEC_UNROLL
    for (int i = 0; i < EDGEC_TM_TILE_ROWS; i++)
EDGEC_UNROLL
        for (int j = 0; j < EDGEC_TM_TILE_TOKENS; j++) acc[i][j] = edgec_vec_zero();
#if EDGEC_TM_TAIL_IN_LOOP
    const int b1 = c1 * cb < n_blocks ? c1 * cb : n_blocks; /* weight blocks [c0*cb, b1) */
    for (int c = c0, b = c0 * cb; b < b1; c++, b += cb) {
EDGEC_UNROLL
        for (int i = 0; i < EDGEC_TM_TILE_ROWS; i++) wb[i] = w + (size_t)(r + (i < R ? i : 0)) * row_bytes + (size_t)b * bb;
        EDGEC_TM_TOKEN_REFS(c - c0, b)
        (void)c;   /* the chunk index only serves XPREP's slab; clang 19 warns where it is unused */
        if (cb > 1 && b + cb > n_blocks) {
            EDGEC_TM_NAME(tile_tail)(fmt, R, T, acc, wb, row_bytes, xp, x, n_blocks - b);
            break;
        }
        EDGEC_TM_NAME(tile_step)(fmt, R, T, acc, wb, xp, x, cb);
    }
#else
    const uint8_t *row = w + (size_t)r * row_bytes;
    const size_t chunk_bytes = (size_t)cb * bb;
    const int whole = cb > 1 && n_blocks / cb < c1 ? n_blocks / cb : c1; /* chunks [c0, whole) are full */
    for (int c = c0; c < whole; c++) {
        EDGEC_TM_TOKEN_REFS(c - c0, c * cb)
EDGEC_UNROLL
        for (int i = 0; i < EDGEC_TM_TILE_ROWS; i++) wb[i] = row + i * row_bytes + (size_t)c * chunk_bytes;
        EDGEC_TM_NAME(tile_step)(fmt, R, T, acc, wb, xp, x, cb);
    }
    if (whole < c1) {
        EDGEC_TM_TOKEN_REFS(whole - c0, whole * cb)
EDGEC_UNROLL
        for (int i = 0; i < EDGEC_TM_TILE_ROWS; i++) wb[i] = row + i * row_bytes + (size_t)whole * chunk_bytes;
        EDGEC_TM_NAME(tile_tail)(fmt, R, T, acc, wb, row_bytes, xp, x, n_blocks - whole * cb);
    }
#endif
EDGEC_UNROLL
    for (int i = 0; i < EDGEC_TM_TILE_ROWS; i++)
EDGEC_UNROLL
        for (int j = 0; j < EDGEC_TM_TILE_TOKENS; j++) {
            if (i >= R || j >= T) continue;
            float *o = out + (size_t)(t + j) * ldo + r + i;
#ifdef EDGEC_TM_XPREP
            *o = (add ? *o : 0.0f) + edgec_vec_hsum(acc[i][j]);
#else
            (void)add;
            *o = edgec_vec_hsum(acc[i][j]);
#endif
        }
}

/* Rows [r0, r1) of tokens t..t+T-1 in R-row tiles, then single rows. */
EDGEC_ALWAYS_INLINE void EDGEC_TM_NAME(rows)(int fmt, int R, int T, float *out, int ldo, const uint8_t *w, size_t row_bytes, int r0, int r1,
                                             int t, const edgec_block_q8a *xq, int nb, const EDGEC_TM_XP *xs, int c0, int c1, int n_blocks)
{
    int r = r0;
    for (; r + R <= r1; r += R) EDGEC_TM_NAME(tile)(fmt, R, T, out, ldo, w, row_bytes, r, t, xq, nb, xs, c0, c1, n_blocks, c0 > 0);
    if (R == 2) { /* one row left at most: a loop here draws gcc 12's -Waggressive-loop-optimizations */
        if (r < r1) EDGEC_TM_NAME(tile)(fmt, 1, T, out, ldo, w, row_bytes, r, t, xq, nb, xs, c0, c1, n_blocks, c0 > 0);
    } else if (R > 2) {
        for (; r < r1; r++) EDGEC_TM_NAME(tile)(fmt, 1, T, out, ldo, w, row_bytes, r, t, xq, nb, xs, c0, c1, n_blocks, c0 > 0);
    }
}

/* Rows [r0, r1) x tokens [0, n_tok); see the top of this file. */
EDGEC_ALWAYS_INLINE void EDGEC_TM_NAME(matmul)(int fmt, float *out, int ldo, const void *w, int r0, int r1,
                                               const edgec_block_q8a *xq, int n_tok, int n)
{
    const int nb = n / EDGEC_QK, n_blocks = n / EDGEC_TM_BLOCK_WEIGHTS(fmt), cb = EDGEC_TM_CHUNK_BLOCKS(fmt);
    const int n_chunks = (n_blocks + cb - 1) / cb, batch = EDGEC_TM_BATCH_TOKENS(fmt);
    const size_t row_bytes = (size_t)n_blocks * EDGEC_TM_BLOCK_BYTES(fmt);
    const uint8_t *wb = (const uint8_t *)w;
#ifdef EDGEC_TM_XPREP
    EDGEC_TM_XPREP xs[EDGEC_TM_SLAB_SLOTS];
    for (int t = 0; t < n_tok;) {
        const int T = n_tok - t >= batch ? batch : 1, slab = EDGEC_TM_SLAB(T);
        for (int c0 = 0; c0 < n_chunks; c0 += slab) {
            const int c1 = c0 + slab < n_chunks ? c0 + slab : n_chunks;
            for (int j = 0; j < T; j++)
                for (int c = c0; c < c1; c++) /* weight blocks in chunk c: cb, or fewer in the last */
                    EDGEC_TM_PREPARE(fmt, &xs[j * slab + c - c0], xq + (size_t)(t + j) * nb + c * EDGEC_TM_ACTS(fmt),
                                     n_blocks - c * cb < cb ? n_blocks - c * cb : cb);
            if (T == batch) EDGEC_TM_NAME(rows)(fmt, EDGEC_TM_BATCH_ROWS(fmt), batch, out, ldo, wb, row_bytes, r0, r1, t, xq, nb, xs, c0, c1, n_blocks);
            else EDGEC_TM_NAME(rows)(fmt, EDGEC_TM_MATVEC_ROWS(fmt), 1, out, ldo, wb, row_bytes, r0, r1, t, xq, nb, xs, c0, c1, n_blocks);
        }
        t += T;
    }
#else
    int t = 0;
    for (; t + batch <= n_tok; t += batch)
        EDGEC_TM_NAME(rows)(fmt, EDGEC_TM_BATCH_ROWS(fmt), batch, out, ldo, wb, row_bytes, r0, r1, t, xq, nb, 0, 0, n_chunks, n_blocks);
    for (; t < n_tok; t++)
        EDGEC_TM_NAME(rows)(fmt, EDGEC_TM_MATVEC_ROWS(fmt), 1, out, ldo, wb, row_bytes, r0, r1, t, xq, nb, 0, 0, n_chunks, n_blocks);
#endif
}

#undef EDGEC_TM_ACTS
#undef EDGEC_TM_XP
#undef EDGEC_TM_SLOT
#undef EDGEC_TM_TOKEN_REFS
#undef EDGEC_TM_NAME
#undef EDGEC_TM_WCHUNK
#undef EDGEC_TM_XPREP
#undef EDGEC_TM_SLAB
#undef EDGEC_TM_SLAB_SLOTS
#undef EDGEC_TM_BATCH_TOKENS
#undef EDGEC_TM_BATCH_ROWS
#undef EDGEC_TM_MATVEC_ROWS
#undef EDGEC_TM_TILE_ROWS
#undef EDGEC_TM_TILE_TOKENS
#undef EDGEC_TM_BLOCK_WEIGHTS
#undef EDGEC_TM_BLOCK_BYTES
#undef EDGEC_TM_CHUNK_BLOCKS
#undef EDGEC_TM_ROWS_FIRST
#undef EDGEC_TM_PARTS
#undef EDGEC_TM_TAIL_IN_LOOP
#undef EDGEC_TM_LOAD_W
#undef EDGEC_TM_PREPARE
#undef EDGEC_TM_FOLD
#undef EDGEC_TM_TAIL
