/*
 * The physical floor of the vfio-user slow path: two processes exchanging messages of a 4-byte
 * REGION_READ's sizes over an AF_UNIX stream socketpair with plain read(2)/write(2).
 * Request 32 bytes (16-byte header + 16-byte body), reply 36 bytes (header + body + 4 data bytes).
 *
 * Usage: unix_pingpong sync SECONDS_PER_ROUND ROUNDS
 *          prints "c-floor-sync-ns <median ns per round trip>"
 *        unix_pingpong pipelined DEPTH SECONDS
 *          keeps DEPTH requests in flight; prints "c-floor-pipelined-ops <round trips per second>"
 * Pinning is left to the caller (taskset), so that both processes inherit the same affinity.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define REQ 32
#define REPLY 36

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

static int full(ssize_t (*io)(int, void *, size_t), int fd, char *buf, size_t n) {
    size_t done = 0;
    while (done < n) {
        ssize_t r = io(fd, buf + done, n - done);
        if (r <= 0) return -1;
        done += (size_t)r;
    }
    return 0;
}

static ssize_t rd(int fd, void *b, size_t n) { return read(fd, b, n); }
static ssize_t wr(int fd, void *b, size_t n) { return write(fd, b, n); }

static void serve(int fd) {
    char req[REQ], reply[REPLY];
    memset(reply, 0, sizeof reply);
    while (full(rd, fd, req, REQ) == 0) {
        memcpy(reply, req, 16); /* echo the header, as a server echoes the message id */
        if (full(wr, fd, reply, REPLY) != 0) break;
    }
    _exit(0);
}

static int cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: %s sync SECONDS ROUNDS | pipelined DEPTH SECONDS\n", argv[0]);
        return 2;
    }
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0) { perror("socketpair"); return 1; }
    pid_t child = fork();
    if (child < 0) { perror("fork"); return 1; }
    if (child == 0) {
        close(sv[0]);
        serve(sv[1]);
    }
    close(sv[1]);
    int fd = sv[0];
    char req[REQ], reply[REPLY];
    memset(req, 0, sizeof req);
    if (strcmp(argv[1], "sync") == 0) {
        double seconds = atof(argv[2]);
        int rounds = atoi(argv[3]);
        double *r = calloc((size_t)rounds, sizeof *r);
        double warm = now_s() + 1;
        while (now_s() < warm) {
            full(wr, fd, req, REQ);
            full(rd, fd, reply, REPLY);
        }
        for (int k = 0; k < rounds; k++) {
            long n = 0;
            double t0 = now_s(), end = t0 + seconds, t;
            do {
                for (int i = 0; i < 1000; i++) {
                    if (full(wr, fd, req, REQ) || full(rd, fd, reply, REPLY)) { perror("io"); return 1; }
                }
                n += 1000;
            } while ((t = now_s()) < end);
            r[k] = (t - t0) * 1e9 / n;
        }
        qsort(r, (size_t)rounds, sizeof *r, cmp);
        printf("c-floor-sync-ns %.0f\n", r[rounds / 2]);
    } else {
        int depth = atoi(argv[2]);
        double seconds = atof(argv[3]);
        for (int i = 0; i < depth; i++) full(wr, fd, req, REQ);
        long n = 0;
        double t0 = now_s(), end = t0 + seconds, t;
        do {
            for (int i = 0; i < 1000; i++) {
                if (full(rd, fd, reply, REPLY) || full(wr, fd, req, REQ)) { perror("io"); return 1; }
            }
            n += 1000;
        } while ((t = now_s()) < end);
        for (int i = 0; i < depth; i++) full(rd, fd, reply, REPLY);
        printf("c-floor-pipelined-ops %.0f\n", n / (t - t0));
    }
    close(fd);
    waitpid(child, NULL, 0);
    return 0;
}
