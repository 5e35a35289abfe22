/* startup.c - what runs before main on a Cortex-M: the vector table the core reads at reset (initial
 * stack pointer, reset handler, exception handlers), then the FPU enabled, .data copied from flash,
 * .bss zeroed and the stack painted for its high-water mark; main's return value is the exit status
 * the host gets over semihosting.  Symbols named __* come from the linker script. */
#include <stdint.h>
#include <string.h>

#include "semihosting.h"
#include "stack_watch.h"

extern uint32_t __data_load[], __data_start[], __data_end[], __bss_start[], __bss_end[];

int main(void);
void reset_handler(void);
void unexpected_exception(void);

#define SCB_CPACR (*(volatile uint32_t *)0xE000ED88u)   /* coprocessor access: CP10/CP11 are the FPU */
#define SCB_CFSR (*(volatile uint32_t *)0xE000ED28u)    /* configurable fault status (why a fault) */
#define SCB_HFSR (*(volatile uint32_t *)0xE000ED2Cu)    /* hard fault status */

typedef void (*exception_handler)(void);

/* The first 16 entries of the Armv7-M vector table: no interrupt is enabled, so no IRQ entries. */
typedef struct {
    void *initial_sp;
    /* reset, NMI, hard fault, memory management, bus, usage, 4 reserved, SVC, debug monitor, reserved, PendSV, SysTick */
    exception_handler handler[15];
} vector_table;

__attribute__((section(".isr_vector"), used)) const vector_table vectors = {
    .initial_sp = __stack_top,
    .handler = {reset_handler, unexpected_exception, unexpected_exception, unexpected_exception,
                unexpected_exception, unexpected_exception, 0, 0, 0, 0, unexpected_exception,
                unexpected_exception, 0, unexpected_exception, unexpected_exception},
};

static void write_hex(uint32_t value) {
    char text[11] = "0x";
    for (int i = 0; i < 8; i++) text[2 + i] = "0123456789abcdef"[(value >> (28 - 4 * i)) & 0xfu];
    text[10] = '\0';
    semihost_write(text);
}

/* Any exception but reset: nothing here handles one, so it is reported and the run ends. */
void unexpected_exception(void) {
    uint32_t ipsr;
    __asm__ volatile("mrs %0, ipsr" : "=r"(ipsr));
    semihost_write("\nfirmware: stopped by exception ");
    semihost_write_int((long)(ipsr & 0x1ffu));
    semihost_write(" (3 hard fault, 4 memory, 5 bus, 6 usage fault); CFSR ");
    write_hex(SCB_CFSR);
    semihost_write(" HFSR ");
    write_hex(SCB_HFSR);
    semihost_write("\n");
    semihost_exit(70);
}

void reset_handler(void) {
    SCB_CPACR |= 0xfu << 20;   /* full access to CP10 and CP11 before any float instruction */
    __asm__ volatile("dsb\n\tisb" ::: "memory");
    memcpy(__data_start, __data_load, (size_t)((uintptr_t)__data_end - (uintptr_t)__data_start));
    memset(__bss_start, 0, (size_t)((uintptr_t)__bss_end - (uintptr_t)__bss_start));
    (void)stack_paint_below_here();
    semihost_exit(main());
}
