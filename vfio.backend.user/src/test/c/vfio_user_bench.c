/*
 * Reference points for the vfio-user client benchmark (RoundTripBenchmark):
 *
 *   vfio_user_bench raw N          raw AF_UNIX ping-pong between two processes with the byte counts of
 *                                  a 4-byte REGION_READ (32-byte request, 36-byte reply); prints the
 *                                  median round trip in nanoseconds: the floor any client can reach.
 *   vfio_user_bench client PATH N  a minimal C vfio-user client doing N synchronous 4-byte REGION_READs
 *                                  against the server at PATH (after VERSION); prints the median.
 *   vfio_user_bench server PATH    a minimal vfio-user server (VERSION, DEVICE_GET_INFO, REGION_READ,
 *                                  REGION_WRITE) that serves one client, so the Java client can be
 *                                  measured against a server that adds nothing of its own.
 *
 * Build: cc -O2 -o vfio_user_bench vfio_user_bench.c
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

struct hdr {
    uint16_t id, cmd;
    uint32_t size, flags, error;
};

static int cmp(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static uint64_t now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000ull + t.tv_nsec;
}

static int full(int fd, void *buf, size_t n, int in) {
    size_t done = 0;
    while (done < n) {
        ssize_t r = in ? read(fd, (char *)buf + done, n - done) : write(fd, (char *)buf + done, n - done);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return -1;
        done += r;
    }
    return 0;
}

static void report(const char *what, uint64_t *t, int n) {
    qsort(t, n, sizeof *t, cmp);
    printf("%s median_ns=%llu p90_ns=%llu\n", what, (unsigned long long)t[n / 2], (unsigned long long)t[n * 9 / 10]);
}

static int raw(int n) {
    int sv[2];
    char req[32], rep[36];
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv)) return perror("socketpair"), 1;
    pid_t pid = fork();
    if (pid == 0) {
        close(sv[0]);
        memset(rep, 0, sizeof rep);
        while (full(sv[1], req, sizeof req, 1) == 0 && full(sv[1], rep, sizeof rep, 0) == 0) {
        }
        _exit(0);
    }
    close(sv[1]);
    uint64_t *t = calloc(n, sizeof *t);
    memset(req, 0, sizeof req);
    for (int i = 0; i < n / 4; i++) { /* warm up */
        full(sv[0], req, sizeof req, 0);
        full(sv[0], rep, sizeof rep, 1);
    }
    for (int i = 0; i < n; i++) {
        uint64_t t0 = now();
        full(sv[0], req, sizeof req, 0);
        full(sv[0], rep, sizeof rep, 1);
        t[i] = now() - t0;
    }
    close(sv[0]);
    waitpid(pid, NULL, 0);
    report("raw", t, n);
    return 0;
}

static const char json[] = "{\"capabilities\":{\"max_msg_fds\":8,\"max_data_xfer_size\":1048576}}";

static int serve(int c) {
    char buf[1 << 16];
    for (;;) {
        struct hdr h;
        if (full(c, &h, sizeof h, 1)) return 0;
        if (h.size < sizeof h || h.size - sizeof h > sizeof buf) return 1;
        size_t body = h.size - sizeof h;
        if (body && full(c, buf, body, 1)) return 0;
        char out[sizeof h + sizeof buf];
        struct hdr *r = (struct hdr *)out;
        size_t n = 0;
        r->id = h.id;
        r->cmd = h.cmd;
        r->flags = 1;
        r->error = 0;
        switch (h.cmd) {
        case 1: /* VERSION */
            memset(out + sizeof h, 0, 4);
            out[sizeof h + 2] = 1;
            memcpy(out + sizeof h + 4, json, sizeof json);
            n = 4 + sizeof json;
            break;
        case 4: { /* DEVICE_GET_INFO */
            uint32_t info[4] = {16, 3, 9, 5};
            memcpy(out + sizeof h, info, 16);
            n = 16;
            break;
        }
        case 9: { /* REGION_READ */
            uint32_t count;
            memcpy(&count, buf + 12, 4);
            if (count > 4096) return 1;
            memcpy(out + sizeof h, buf, 16);
            memset(out + sizeof h + 16, 0x5a, count);
            n = 16 + count;
            break;
        }
        case 10: /* REGION_WRITE */
            memcpy(out + sizeof h, buf, 16);
            n = 16;
            if (h.flags & 0x10) continue;
            break;
        default:
            r->flags = 1 | 0x20;
            r->error = ENOSYS;
        }
        r->size = sizeof h + n;
        if (full(c, out, r->size, 0)) return 0;
    }
}

static int server(const char *path) {
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    strncpy(a.sun_path, path, sizeof a.sun_path - 1);
    int s = socket(AF_UNIX, SOCK_STREAM, 0);
    unlink(path);
    if (bind(s, (struct sockaddr *)&a, sizeof a) || listen(s, 1)) return perror("bind/listen"), 1;
    printf("listening\n");
    fflush(stdout);
    for (;;) {
        int c = accept(s, NULL, NULL);
        if (c < 0) return perror("accept"), 1;
        serve(c);
        close(c);
    }
}

static int client(const char *path, int n) {
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    strncpy(a.sun_path, path, sizeof a.sun_path - 1);
    int s = socket(AF_UNIX, SOCK_STREAM, 0);
    if (connect(s, (struct sockaddr *)&a, sizeof a)) return perror("connect"), 1;
    char msg[256], rep[256];
    struct hdr *h = (struct hdr *)msg;
    h->id = 0; h->cmd = 1; h->size = 16 + 4 + 3; h->flags = 0; h->error = 0;
    memcpy(msg + 16, "\0\0\1\0{}", 7);
    full(s, msg, h->size, 0);
    struct hdr rh;
    full(s, &rh, 16, 1);
    full(s, rep, rh.size - 16, 1);
    uint64_t *t = calloc(n, sizeof *t);
    for (int i = -n / 4; i < n; i++) {
        uint64_t t0 = now();
        h->id = (uint16_t)i; h->cmd = 9; h->size = 32; h->flags = 0;
        uint64_t off = 0; uint32_t region = 1, count = 4;
        memcpy(msg + 16, &off, 8); memcpy(msg + 24, &region, 4); memcpy(msg + 28, &count, 4);
        full(s, msg, 32, 0);
        full(s, &rh, 16, 1);
        full(s, rep, rh.size - 16, 1);
        if (i >= 0) t[i] = now() - t0;
    }
    report("c-client", t, n);
    return 0;
}

int main(int argc, char **argv) {
    if (argc >= 3 && !strcmp(argv[1], "raw")) return raw(atoi(argv[2]));
    if (argc >= 3 && !strcmp(argv[1], "server")) return server(argv[2]);
    if (argc >= 4 && !strcmp(argv[1], "client")) return client(argv[2], atoi(argv[3]));
    fprintf(stderr, "usage: %s raw N | server PATH | client PATH N\n", argv[0]);
    return 2;
}
