/* cmdline.h - splits the one-string command line semihosting gives (qemu: the -kernel path, then
 * -append's text) into words, as a POSIX shell would quote them ('...', "...", backslash), so a
 * host can pass `-p 'Once upon a time'` through shlex.join. */
#ifndef EDGEC_CMDLINE_H
#define EDGEC_CMDLINE_H

/* Splits line in place into at most max_words words; returns how many, or -1 if there are more
 * or a quote is not closed. */
int cmdline_split(char *line, char **words, int max_words);

#endif
