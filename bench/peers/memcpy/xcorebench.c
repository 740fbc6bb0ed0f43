/*
 * xcorebench.c - the cross-core copy rate: what an shm collective pays to read a buffer another core has just
 * written. Two threads, pinned to CPUs A and B; per round the producer (A) writes SIZE bytes (memset) and hands
 * them over, the consumer (B) copies them out with glibc memcpy (a cross-core read: the lines sit in A's caches)
 * and hands the buffer back. Prints, per window of ROUNDS rounds, the consumer's copy GB/s (bytes copied / its
 * memcpy time) and the round time; the last line is the median window. Unlike memcpybench, whose threads copy
 * their own buffers, this moves every line between the two cores, so it shows the machine's own run-to-run
 * changes in that rate (on a KVM guest, where the host places the vCPUs). GB = 1e9 bytes.
 * usage: xcorebench [size_MiB] [windows] [rounds] [cpuA] [cpuB]   (defaults 1 10 500 0 1)
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static size_t SZ; static long ROUNDS; static int CPU_A, CPU_B;
static char *buf, *dst;
static _Atomic long turn;
static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec * 1e-9; }

static int pin(int cpu) {
    cpu_set_t s; CPU_ZERO(&s); CPU_SET(cpu, &s);
    return pthread_setaffinity_np(pthread_self(), sizeof s, &s);
}

static void *producer(void *arg) {
    (void) arg;
    if (pin(CPU_A) != 0) { fprintf(stderr, "xcorebench: cannot pin to cpu %d\n", CPU_A); exit(2); }
    for (long i = 0; i < ROUNDS; i++) {
        while (atomic_load_explicit(&turn, memory_order_acquire) != 2 * i) { }
        memset(buf, (int) (i & 0xff), SZ);
        atomic_store_explicit(&turn, 2 * i + 1, memory_order_release);
    }
    return NULL;
}

static int cmp(const void *a, const void *b) {
    double x = *(const double *) a, y = *(const double *) b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
    SZ = (size_t) (argc > 1 ? atol(argv[1]) : 1) << 20;
    int windows = argc > 2 ? atoi(argv[2]) : 10;
    ROUNDS = argc > 3 ? atol(argv[3]) : 500;
    CPU_A = argc > 4 ? atoi(argv[4]) : 0;
    CPU_B = argc > 5 ? atoi(argv[5]) : 1;
    if (SZ == 0 || windows < 1 || windows > 10000 || ROUNDS < 1) {
        fprintf(stderr, "usage: xcorebench [size_MiB >= 1] [windows 1..10000] [rounds >= 1] [cpuA] [cpuB]\n");
        return 2;
    }
    buf = aligned_alloc(4096, SZ); dst = aligned_alloc(4096, SZ);
    if (!buf || !dst) { fprintf(stderr, "xcorebench: cannot allocate 2 x %zu bytes\n", SZ); return 2; }
    memset(buf, 0, SZ); memset(dst, 0, SZ);
    if (pin(CPU_B) != 0) { fprintf(stderr, "xcorebench: cannot pin to cpu %d\n", CPU_B); return 2; }
    double *rates = malloc(sizeof(double) * windows);
    printf("# xcorebench: %zu MiB, cpu %d writes, cpu %d copies out; %ld rounds per window\n", SZ >> 20, CPU_A,
           CPU_B, ROUNDS);
    for (int w = 0; w < windows; w++) {
        atomic_store(&turn, 0);
        pthread_t t;
        pthread_create(&t, NULL, producer, NULL);
        double t0 = now(), copy = 0;
        for (long i = 0; i < ROUNDS; i++) {
            while (atomic_load_explicit(&turn, memory_order_acquire) != 2 * i + 1) { }
            double a = now();
            memcpy(dst, buf, SZ);
            copy += now() - a;
            atomic_store_explicit(&turn, 2 * i + 2, memory_order_release);
        }
        pthread_join(t, NULL);
        double elapsed = now() - t0;
        rates[w] = ROUNDS * (double) SZ / copy / 1e9;
        printf("window %d: copy %.1f GB/s, round %.1f us\n", w, rates[w], elapsed / ROUNDS * 1e6);
    }
    qsort(rates, windows, sizeof(double), cmp);
    printf("median %.1f GB/s over %d windows (min %.1f, max %.1f)\n", rates[windows / 2], windows, rates[0],
           rates[windows - 1]);
    return 0;
}
