/* newlib_syscalls.c - the system calls newlib's C library needs on bare metal: _sbrk hands malloc (the
 * tokenizer's tables) the RAM between .bss and the stack; _exit ends the run over semihosting; the
 * file calls the C library may reach answer "not supported". */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include "semihosting.h"

extern char __heap_start[], __heap_end[];   /* from the linker script */

void *_sbrk(ptrdiff_t increment);
_Noreturn void _exit(int status);
int _close(int fd);
int _fstat(int fd, struct stat *st);
int _isatty(int fd);
int _lseek(int fd, int offset, int whence);
int _read(int fd, char *buf, int n);
int _write(int fd, const char *buf, int n);
int _kill(int pid, int sig);
int _getpid(void);

void *_sbrk(ptrdiff_t increment) {
    static char *brk = __heap_start;
    if (increment > __heap_end - brk || increment < __heap_start - brk) {
        errno = ENOMEM;
        return (void *)-1;
    }
    char *old = brk;
    brk += increment;
    return old;
}

_Noreturn void _exit(int status) {
    semihost_exit(status);
}

int _write(int fd, const char *buf, int n) {
    if (fd != 1 && fd != 2) {
        errno = EBADF;
        return -1;
    }
    semihost_write_bytes(buf, (size_t)n);
    return n;
}

int _close(int fd) {
    (void)fd;
    errno = EBADF;
    return -1;
}

int _fstat(int fd, struct stat *st) {
    (void)fd;
    st->st_mode = S_IFCHR;   /* a console: unbuffered line output */
    return 0;
}

int _isatty(int fd) {
    return fd <= 2;
}

int _lseek(int fd, int offset, int whence) {
    (void)fd, (void)offset, (void)whence;
    errno = ESPIPE;
    return -1;
}

int _read(int fd, char *buf, int n) {
    (void)fd, (void)buf, (void)n;
    return 0;   /* no input: end of file */
}

int _kill(int pid, int sig) {
    (void)pid, (void)sig;
    errno = EINVAL;
    return -1;
}

int _getpid(void) {
    return 1;
}
