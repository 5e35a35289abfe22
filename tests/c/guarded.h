/* guarded.h - memory that ends exactly where an inaccessible page begins, so a kernel that reads one
 * byte past its weights or activations faults instead of reading a neighbour's bytes.
 *
 * Include it first: mmap's MAP_ANONYMOUS needs _DEFAULT_SOURCE before any system header.
 */
#ifndef GUARDED_H
#define GUARDED_H

#ifndef _DEFAULT_SOURCE
#define _DEFAULT_SOURCE
#endif
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

/* `bytes` bytes of read-write memory followed by a PROT_NONE page (never freed; exits on failure). */
static inline void *guarded(size_t bytes)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE), span = (bytes + page - 1) / page * page;
    uint8_t *base = mmap(NULL, span + page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (base == MAP_FAILED || mprotect(base + span, page, PROT_NONE)) {
        perror("mmap");
        exit(2);
    }
    return base + span - bytes;
}

#endif /* GUARDED_H */
