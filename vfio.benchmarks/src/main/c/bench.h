/* What the C floors share: a monotonic clock in nanoseconds and a comparator for medians. */
#ifndef VFIO_BENCH_H
#define VFIO_BENCH_H
#include <time.h>

static double now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e9 + t.tv_nsec;
}

/* qsort comparator for doubles */
static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}
#endif
