/*
 * The C floor of interrupt latency: a thread blocked in epoll_wait on an eventfd (as vfio.core's
 * dispatcher thread is), woken by another thread's eventfd write; latency is from just before the
 * write to just after the waiter has read the eventfd. Between samples the raiser sleeps ~200 us.
 *
 * Usage: irq_latency SAMPLES     prints "c-irq-epoll p50-us X p99-us Y max-us Z"
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

static int efd, ep;
static volatile int64_t handled;

static int64_t now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

static void *waiter(void *arg) {
    (void)arg;
    struct epoll_event ev;
    for (;;) {
        if (epoll_wait(ep, &ev, 1, -1) == 1) {
            uint64_t v;
            if (read(efd, &v, sizeof v) == sizeof v) {
                __atomic_store_n(&handled, now_ns(), __ATOMIC_RELEASE);
            }
        }
    }
    return NULL;
}

static int cmp(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

static void measure(int n, int64_t *lat) {
    struct timespec pause = {0, 200000};
    for (int i = 0; i < n; i++) {
        nanosleep(&pause, NULL);
        int64_t before = __atomic_load_n(&handled, __ATOMIC_ACQUIRE);
        int64_t t0 = now_ns();
        uint64_t one = 1;
        if (write(efd, &one, sizeof one) != sizeof one) { perror("write"); exit(1); }
        int64_t t1;
        while ((t1 = __atomic_load_n(&handled, __ATOMIC_ACQUIRE)) == before) {
            __builtin_ia32_pause();
        }
        lat[i] = t1 - t0;
    }
}

int main(int argc, char **argv) {
    int n = argc > 1 ? atoi(argv[1]) : 5000;
    efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    ep = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = efd};
    epoll_ctl(ep, EPOLL_CTL_ADD, efd, &ev);
    pthread_t t;
    pthread_create(&t, NULL, waiter, NULL);
    int64_t *lat = calloc((size_t)n, sizeof *lat);
    measure(n / 5, lat); /* warm-up */
    measure(n, lat);
    qsort(lat, (size_t)n, sizeof *lat, cmp);
    printf("c-irq-epoll p50-us %.1f p99-us %.1f max-us %.1f\n", lat[n / 2] / 1e3,
           lat[(int)(n * 0.99)] / 1e3, lat[n - 1] / 1e3);
    return 0;
}
