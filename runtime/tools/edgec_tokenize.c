/* edgec_tokenize - a standalone driver of the tokenizer library, for tests and debugging.
 *
 *   edgec_tokenize [--special] [--whole] BLOB FILE
 *                                          ids of each line of FILE (without its "\n"), one
 *                                          output line per input line; --whole: of the whole
 *                                          file as one text; --special parses special-token
 *                                          text (default: plain text); never adds BOS
 *   edgec_tokenize --decode BLOB           reads ids from stdin, writes the decoded bytes
 *   edgec_tokenize --pretokenize BLOB FILE end offsets of each line's pre-tokenizer pieces
 *   edgec_tokenize --info BLOB             the blob's ids, flags and chat strings
 */
#include "tokenizer.h"
#include "tokenizer_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void die(const char *msg, const char *arg)
{
    fprintf(stderr, "edgec_tokenize: %s%s\n", msg, arg ? arg : "");
    exit(1);
}

static void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p) die("out of memory", NULL);
    return p;
}

/* Reads a whole file into memory; *len gets its size. */
static unsigned char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) die("cannot open ", path);
    size_t cap = 1 << 16, n = 0;
    unsigned char *buf = xmalloc(cap);
    for (;;) {
        n += fread(buf + n, 1, cap - n, f);
        if (n < cap) break;
        cap *= 2;
        buf = realloc(buf, cap);
        if (!buf) die("out of memory", NULL);
    }
    if (ferror(f)) die("cannot read ", path);
    fclose(f);
    *len = n;
    return buf;
}

static edgec_tokenizer *load(const char *path)
{
    size_t len;
    unsigned char *blob = read_file(path, &len);
    char err[256];
    edgec_tokenizer *t = edgec_tokenizer_load(blob, len, err, sizeof err);
    if (!t) die(err, NULL);
    free(blob); /* the tokenizer keeps its own copy */
    return t;
}

/* Encodes one line with a small first buffer, so the "return > cap" path is exercised too. */
static void encode_line(const edgec_tokenizer *t, const char *line, size_t len, int special)
{
    int32_t small[8];
    int n = edgec_tokenizer_encode(t, line, len, special, small, 8);
    if (n < 0) die("encode failed", NULL);
    int32_t *ids = xmalloc((size_t)n * sizeof *ids);
    if (edgec_tokenizer_encode(t, line, len, special, ids, n) != n) die("encode gave two lengths", NULL);
    for (int i = 0; i < n && i < 8; i++)
        if (ids[i] != small[i]) die("encode with a small buffer gave other ids", NULL);
    for (int i = 0; i < n; i++) printf(i ? " %d" : "%d", (int)ids[i]);
    putchar('\n');
    free(ids);
}

static void pretokenize_line(const edgec_tokenizer *t, const char *line, size_t len)
{
    long n = edgec_tokenizer_pretokenize(t, line, len, NULL, 0);
    size_t *ends = xmalloc((size_t)n * sizeof *ends);
    edgec_tokenizer_pretokenize(t, line, len, ends, n);
    for (long i = 0; i < n; i++) printf(i ? " %zu" : "%zu", ends[i]);
    putchar('\n');
    free(ends);
}

/* Encodes or pre-tokenizes each "\n"-terminated line of the file (a last unterminated line
 * counts), or the whole file as one text. */
static void for_each_line(const edgec_tokenizer *t, const char *path, int mode, int special, int whole)
{
    size_t len;
    char *text = (char *)read_file(path, &len);
    if (whole) {
        encode_line(t, text, len, special);
        free(text);
        return;
    }
    for (size_t start = 0; start < len;) {
        char *nl = memchr(text + start, '\n', len - start);
        size_t end = nl ? (size_t)(nl - text) : len;
        if (mode == 'p') pretokenize_line(t, text + start, end - start);
        else encode_line(t, text + start, end - start, special);
        start = end + 1;
    }
    free(text);
}

static void decode_stdin(const edgec_tokenizer *t)
{
    size_t cap = 1024, n = 0;
    int32_t *ids = xmalloc(cap * sizeof *ids);
    long id;
    while (scanf("%ld", &id) == 1) {
        if (n == cap) {
            cap *= 2;
            ids = realloc(ids, cap * sizeof *ids);
            if (!ids) die("out of memory", NULL);
        }
        ids[n++] = (int32_t)id;
    }
    size_t need = edgec_tokenizer_decode(t, ids, (int)n, NULL, 0);
    char *out = xmalloc(need + 1);
    if (edgec_tokenizer_decode(t, ids, (int)n, out, need + 1) != need || out[need] != '\0')
        die("decode gave two lengths", NULL);
    fwrite(out, 1, need, stdout);
    free(out);
    free(ids);
}

/* Prints a string with C escapes so every byte is visible. */
static void print_escaped(const char *name, const char *s)
{
    printf("%s=", name);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '\n') printf("\\n");
        else if (c == '\\') printf("\\\\");
        else if (c < 0x20 || c == 0x7f) printf("\\x%02x", c);
        else putchar(c);
    }
    putchar('\n');
}

static void info(const edgec_tokenizer *t)
{
    const edgec_chat_format *chat = edgec_tokenizer_chat(t);
    printf("n_vocab=%d\nbos=%d\neos=%d\nadd_bos=%d\nhas_chat=%d\n", edgec_tokenizer_n_vocab(t), edgec_tokenizer_bos(t),
           edgec_tokenizer_eos(t), edgec_tokenizer_add_bos(t), chat->has_chat);
    print_escaped("bos_text", chat->bos_text);
    print_escaped("system_prefix", chat->system_prefix);
    print_escaped("system_suffix", chat->system_suffix);
    print_escaped("user_prefix", chat->user_prefix);
    print_escaped("user_suffix", chat->user_suffix);
    print_escaped("assistant_prefix", chat->assistant_prefix);
    print_escaped("assistant_suffix", chat->assistant_suffix);
    print_escaped("default_system", chat->default_system);
    printf("stop=");
    for (int id = 0, first = 1; id < edgec_tokenizer_n_vocab(t); id++)
        if (edgec_tokenizer_is_stop(t, id)) {
            printf(first ? "%d" : " %d", id);
            first = 0;
        }
    putchar('\n');
}

int main(int argc, char **argv)
{
    static char out_buf[1 << 16];
    setvbuf(stdout, out_buf, _IOFBF, sizeof out_buf);
    int special = 0, whole = 0, arg = 1;
    for (; arg < argc && argv[arg][0] == '-' && argv[arg][1] == '-'; arg++) {
        if (strcmp(argv[arg], "--special") == 0) special = 1;
        else if (strcmp(argv[arg], "--whole") == 0) whole = 1;
        else break;
    }
    int rest = argc - arg;
    const char *mode = arg < argc && argv[arg][0] == '-' ? argv[arg] : "";
    edgec_tokenizer *t = NULL;
    if (strcmp(mode, "--decode") == 0 && rest == 2 && !special && !whole) {
        t = load(argv[arg + 1]);
        decode_stdin(t);
    } else if (strcmp(mode, "--info") == 0 && rest == 2 && !special && !whole) {
        t = load(argv[arg + 1]);
        info(t);
    } else if (strcmp(mode, "--pretokenize") == 0 && rest == 3 && !special && !whole) {
        t = load(argv[arg + 1]);
        for_each_line(t, argv[arg + 2], 'p', 0, 0);
    } else if (!*mode && rest == 2) {
        t = load(argv[arg]);
        for_each_line(t, argv[arg + 1], 'e', special, whole);
    } else {
        fprintf(stderr, "usage: edgec_tokenize [--special] [--whole] BLOB FILE\n"
                        "       edgec_tokenize --decode BLOB < ids\n"
                        "       edgec_tokenize --pretokenize BLOB FILE\n"
                        "       edgec_tokenize --info BLOB\n");
        return 2;
    }
    edgec_tokenizer_free(t);
    return fflush(stdout) == 0 ? 0 : 1;
}
