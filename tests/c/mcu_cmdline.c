/* mcu_cmdline.c - runtime/mcu/cmdline.c on the host: splits argv[1] as the firmware image splits its
 * semihosting command line and prints each word on a line of its own, or "error" (tests/mcu/). */
#include <stdio.h>
#include <string.h>

#include "cmdline.h"

int main(int argc, char **argv) {
    if (argc != 2) return 2;
    char line[1024];
    if (strlen(argv[1]) >= sizeof line) return 2;
    strcpy(line, argv[1]);
    char *words[16];
    int n = cmdline_split(line, words, 16);
    if (n < 0) {
        puts("error");
        return 0;
    }
    for (int i = 0; i < n; i++) printf("%s\n", words[i]);
    return 0;
}
