/* semihosting.h - output, the command line and the exit status through Arm semihosting: the debugger
 * (or qemu-system-arm -semihosting-config enable=on) serves them, so the image needs no UART driver.
 * Each call is a BKPT 0xab trap: without a debugger attached a real board halts on the first one. */
#ifndef EDGEC_SEMIHOSTING_H
#define EDGEC_SEMIHOSTING_H

#include <stddef.h>

/* Writes a NUL-terminated string to the host's console (SYS_WRITE0). */
void semihost_write(const char *text);

/* Writes n bytes (NUL bytes are left out: SYS_WRITE0 ends a string at one). */
void semihost_write_bytes(const char *bytes, size_t n);

/* Writes a decimal number. */
void semihost_write_int(long value);

/* The command line the host gives the image (SYS_GET_CMDLINE: qemu's -kernel path, then -append) into
 * buf, NUL-terminated; 0, or -1 if the host has none or it does not fit in cap bytes. */
int semihost_cmdline(char *buf, size_t cap);

/* Ends the program with an exit status the host passes on (SYS_EXIT_EXTENDED, else SYS_EXIT). */
_Noreturn void semihost_exit(int status);

#endif
