/*
 * The C floor of the mapped fast path: volatile 4- and 8-byte loads and stores on a shared mapping
 * of a file in /dev/shm (the same kind of shmem pages the memory backend maps).
 *
 * Usage: mapped_loop FILE [iterations]
 * Prints, per operation, the median over 7 rounds of ns/op for two shapes:
 *   loop  - the access inlined in a counted loop (what a C driver's hot loop costs);
 *   call  - one non-inlined function call per access (what a JMH invocation costs: a call, the
 *           access, a return value consumed), the fairer peer of a JMH @Benchmark method.
 * Stores use the same ordering as Java's setVolatile on x86-64 (a store followed by a full fence,
 * which HotSpot emits as lock addl), loads are plain volatile loads (x86 loads are acquire).
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"

#define ROUNDS 7
#define OFFSET 0x100


__attribute__((noinline)) static uint32_t call_read32(volatile uint32_t *p) { return *p; }
__attribute__((noinline)) static uint64_t call_read64(volatile uint64_t *p) { return *p; }
__attribute__((noinline)) static void call_write32(volatile uint32_t *p, uint32_t v) {
    *p = v;
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
}
__attribute__((noinline)) static void call_write64(volatile uint64_t *p, uint64_t v) {
    *p = v;
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
}

static volatile uint64_t sink;

static double run(int op, int shape, char *base, long n) {
    volatile uint32_t *p32 = (volatile uint32_t *)(base + OFFSET);
    volatile uint64_t *p64 = (volatile uint64_t *)(base + OFFSET);
    uint64_t acc = 0;
    double t0 = now_ns();
    for (long i = 0; i < n; i++) {
        switch (op * 2 + shape) {
        case 0: acc += *p32; break;
        case 1: acc += call_read32(p32); break;
        case 2: acc += *p64; break;
        case 3: acc += call_read64(p64); break;
        case 4: *p32 = (uint32_t)i; __atomic_thread_fence(__ATOMIC_SEQ_CST); break;
        case 5: call_write32(p32, (uint32_t)i); break;
        case 6: *p64 = (uint64_t)i; __atomic_thread_fence(__ATOMIC_SEQ_CST); break;
        case 7: call_write64(p64, (uint64_t)i); break;
        }
    }
    double t1 = now_ns();
    sink = acc;
    return (t1 - t0) / n;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s FILE [iterations]\n", argv[0]);
        return 2;
    }
    long n = argc > 2 ? atol(argv[2]) : 50000000L;
    int fd = open(argv[1], O_RDWR);
    if (fd < 0) { perror(argv[1]); return 1; }
    char *base = mmap(NULL, 0x4000, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (base == MAP_FAILED) { perror("mmap"); return 1; }
    const char *names[] = {"read32", "read64", "write32", "write64"};
    const char *shapes[] = {"loop", "call"};
    for (int op = 0; op < 4; op++) {
        for (int shape = 0; shape < 2; shape++) {
            double r[ROUNDS];
            run(op, shape, base, n / 10); /* warm up */
            for (int k = 0; k < ROUNDS; k++) r[k] = run(op, shape, base, n);
            qsort(r, ROUNDS, sizeof r[0], cmp_double);
            printf("c-%s-%s %.3f\n", names[op], shapes[shape], r[ROUNDS / 2]);
        }
    }
    munmap(base, 0x4000);
    close(fd);
    return 0;
}
