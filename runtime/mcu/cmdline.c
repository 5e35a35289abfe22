/* cmdline.c - shell-style word splitting of the semihosting command line (cmdline.h). */
#include "cmdline.h"

static int is_blank(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* Copies one word from *from to *to, undoing its quotes; returns 0, or -1 on an unclosed quote. */
static int copy_word(const char **from, char **to) {
    const char *s = *from;
    char *d = *to;
    while (*s && !is_blank(*s)) {
        if (*s == '\'') {   /* '...': every character literal */
            for (s++; *s && *s != '\''; s++) *d++ = *s;
            if (!*s++) return -1;
        } else if (*s == '"') {   /* "...": backslash escapes " and \ */
            for (s++; *s && *s != '"'; s++) {
                if (*s == '\\' && (s[1] == '"' || s[1] == '\\')) s++;
                *d++ = *s;
            }
            if (!*s++) return -1;
        } else {
            if (*s == '\\' && s[1]) s++;
            *d++ = *s++;
        }
    }
    *from = s;
    *to = d;
    return 0;
}

int cmdline_split(char *line, char **words, int max_words) {
    const char *s = line;
    char *d = line;   /* a word never grows when its quotes are removed, so it is rewritten in place */
    int n = 0;
    for (;;) {
        while (is_blank(*s)) s++;
        if (!*s) return n;
        if (n == max_words) return -1;
        words[n++] = d;
        if (copy_word(&s, &d) != 0) return -1;
        int at_end = *s == '\0';
        *d++ = '\0';   /* d <= s here: the terminator overwrites at most the blank after the word */
        if (at_end) return n;
        s++;
    }
}
