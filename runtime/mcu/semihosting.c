/* semihosting.c - Arm semihosting calls (the "Semihosting for AArch32 and AArch64" specification):
 * an operation number in r0, a pointer to its argument block in r1, BKPT 0xab on M-profile. */
#include "semihosting.h"

#include <stdint.h>

enum {
    SYS_WRITE0 = 0x04,
    SYS_GET_CMDLINE = 0x15,
    SYS_EXIT = 0x18,
    SYS_EXIT_EXTENDED = 0x20,
    ADP_STOPPED_APPLICATION_EXIT = 0x20026,   /* a normal exit; the extended call adds the status */
    ADP_STOPPED_RUN_TIME_ERROR = 0x20023,
};

static int semihost_call(int op, void *arg) {
    register int r0 __asm__("r0") = op;
    register void *r1 __asm__("r1") = arg;
    __asm__ volatile("bkpt 0xab" : "+r"(r0) : "r"(r1) : "memory");
    return r0;
}

void semihost_write(const char *text) {
    semihost_call(SYS_WRITE0, (void *)(uintptr_t)text);
}

void semihost_write_bytes(const char *bytes, size_t n) {
    char chunk[64];   /* one trap per chunk: each is a round trip to the host */
    size_t used = 0;
    for (size_t i = 0; i < n; i++) {
        if (bytes[i] != '\0') chunk[used++] = bytes[i];
        if (used == sizeof chunk - 1 || (i + 1 == n && used > 0)) {
            chunk[used] = '\0';
            semihost_write(chunk);
            used = 0;
        }
    }
}

void semihost_write_int(long value) {
    char digits[24];
    char *p = digits + sizeof digits - 1;
    unsigned long magnitude = value < 0 ? 0ul - (unsigned long)value : (unsigned long)value;
    *p = '\0';
    do {
        *--p = (char)('0' + magnitude % 10);
        magnitude /= 10;
    } while (magnitude > 0);
    if (value < 0) *--p = '-';
    semihost_write(p);
}

int semihost_cmdline(char *buf, size_t cap) {
    uint32_t block[2] = {(uint32_t)(uintptr_t)buf, (uint32_t)cap};
    if (cap == 0 || semihost_call(SYS_GET_CMDLINE, block) != 0) return -1;
    buf[cap - 1] = '\0';
    return 0;
}

_Noreturn void semihost_exit(int status) {
    uint32_t block[2] = {ADP_STOPPED_APPLICATION_EXIT, (uint32_t)status};
    semihost_call(SYS_EXIT_EXTENDED, block);
    /* a host without the extended call: plain SYS_EXIT tells success from failure only */
    semihost_call(SYS_EXIT, (void *)(uintptr_t)(status == 0 ? ADP_STOPPED_APPLICATION_EXIT : ADP_STOPPED_RUN_TIME_ERROR));
    for (;;) __asm__ volatile("wfi");
}
