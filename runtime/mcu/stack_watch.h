/* stack_watch.h - the stack's high-water mark, by painting: fill the unused stack with a pattern, run,
 * then find the lowest word that changed.  The functions are inlined and keep to registers, so painting
 * never writes into the frames it paints below.  __stack_limit and __stack_top come from the linker
 * script (templates/mcu_link.ld.j2). */
#ifndef EDGEC_STACK_WATCH_H
#define EDGEC_STACK_WATCH_H

#include <stddef.h>
#include <stdint.h>

#define STACK_PAINT 0x57AC4ED5u   /* unlikely as a saved register or a local */

extern uint32_t __stack_limit[], __stack_top[];

static inline __attribute__((always_inline)) uintptr_t stack_pointer(void) {
    uintptr_t sp;
    __asm__ volatile("mov %0, sp" : "=r"(sp));
    return sp;
}

/* Paints the stack from its limit up to the current stack pointer; returns that pointer. */
static inline __attribute__((always_inline)) uintptr_t stack_paint_below_here(void) {
    uintptr_t sp = stack_pointer();
    for (volatile uint32_t *w = __stack_limit; (uintptr_t)w < sp; w++) *w = STACK_PAINT;   /* volatile: no memset call */
    return sp;
}

/* Bytes of stack used below from since it was painted (all of it up to the limit: an overflow). */
static inline __attribute__((always_inline)) size_t stack_used_below(uintptr_t from) {
    const volatile uint32_t *w = __stack_limit;
    while ((uintptr_t)w < from && *w == STACK_PAINT) w++;
    return from - (uintptr_t)w;
}

/* Bytes of stack reserved by the linker script. */
static inline size_t stack_reserved(void) {
    return (size_t)((uintptr_t)__stack_top - (uintptr_t)__stack_limit);
}

#endif
