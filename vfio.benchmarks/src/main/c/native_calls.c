/*
 * The per-call floor of the calls vfio.posix makes through JNA, in one thread (no context switch,
 * so far less noisy than a ping-pong): a 4-byte pread(2) of a file, as the Linux VFIO backend reads
 * a register on the slow path, and one sendmsg(2) + one recvmsg(2) of 32 bytes on an AF_UNIX
 * socketpair, as a vfio-user message costs each side. NativeCallBench does the same in Java.
 *
 * Usage: native_calls FILE ROUNDS     prints "c-pread4-ns <median>" and "c-sendrecv32-ns <median>"
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"

#define N 1000000


int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: %s FILE ROUNDS\n", argv[0]);
        return 2;
    }
    int rounds = atoi(argv[2]);
    int fd = open(argv[1], O_RDONLY | O_CLOEXEC);
    int sv[2];
    if (fd < 0 || socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
        perror("setup");
        return 1;
    }
    double *pr = calloc(rounds, sizeof(double)), *sr = calloc(rounds, sizeof(double));
    static char out[32], in[16384], control[64];
    unsigned value;
    for (int r = 0; r < rounds; r++) {
        double t0 = now_ns();
        for (int i = 0; i < N; i++) {
            if (pread(fd, &value, 4, 0x100) != 4) { perror("pread"); return 1; }
        }
        double t1 = now_ns();
        for (int i = 0; i < N; i++) {
            struct iovec o = {out, sizeof out}, v = {in, sizeof in};
            struct msghdr s = {.msg_iov = &o, .msg_iovlen = 1};
            struct msghdr m = {.msg_iov = &v, .msg_iovlen = 1, .msg_control = control, .msg_controllen = sizeof control};
            if (sendmsg(sv[0], &s, MSG_NOSIGNAL) != 32 || recvmsg(sv[1], &m, MSG_CMSG_CLOEXEC) != 32) {
                perror("sendmsg/recvmsg");
                return 1;
            }
        }
        double t2 = now_ns();
        pr[r] = (t1 - t0) / N;
        sr[r] = (t2 - t1) / N;
    }
    qsort(pr, rounds, sizeof(double), cmp_double);
    qsort(sr, rounds, sizeof(double), cmp_double);
    printf("c-pread4-ns %.1f\nc-sendrecv32-ns %.1f\n", pr[rounds / 2], sr[rounds / 2]);
    return 0;
}
