/*
 * The C peer of vfio.backend.ioctl's AccessCostGuestTest, for the QEMU guest of rig/: what a 4-byte
 * read of the edu device's BAR0 offset 0 (its id register) costs through pread(2) on the VFIO device
 * fd and through an mmap of BAR0, with the legacy container/group API (type1 IOMMU).
 *
 * Usage (inside the guest, as root): vfio_access [ROUNDS]
 * Finds the edu function (1234:11e8) bound to vfio-pci in sysfs. Prints, like the Java test, the
 * mean ns per read of the second of two passes of ROUNDS (default 20000) reads each.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <libgen.h>
#include <linux/vfio.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

static long hexfile(const char *dir, const char *name) {
    char p[512];
    snprintf(p, sizeof p, "/sys/bus/pci/devices/%s/%s", dir, name);
    FILE *f = fopen(p, "r");
    if (!f) return -1;
    long v = -1;
    if (fscanf(f, "%lx", &v) != 1) v = -1;
    fclose(f);
    return v;
}

static double now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e9 + t.tv_nsec;
}

static void die(const char *what) {
    perror(what);
    exit(1);
}

int main(int argc, char **argv) {
    long rounds = argc > 1 ? atol(argv[1]) : 20000;
    DIR *d = opendir("/sys/bus/pci/devices");
    if (!d) die("/sys/bus/pci/devices");
    struct dirent *e;
    char bdf[256] = "";
    while ((e = readdir(d))) {
        if (e->d_name[0] != '.' && hexfile(e->d_name, "vendor") == 0x1234 && hexfile(e->d_name, "device") == 0x11e8) {
            snprintf(bdf, sizeof bdf, "%s", e->d_name);
        }
    }
    closedir(d);
    if (!bdf[0]) { fprintf(stderr, "no edu device (1234:11e8)\n"); return 1; }
    char link[512], target[512];
    snprintf(link, sizeof link, "/sys/bus/pci/devices/%s/iommu_group", bdf);
    ssize_t n = readlink(link, target, sizeof target - 1);
    if (n < 0) die(link);
    target[n] = 0;
    char group_path[600];
    snprintf(group_path, sizeof group_path, "/dev/vfio/%s", basename(target));
    int container = open("/dev/vfio/vfio", O_RDWR);
    if (container < 0) die("/dev/vfio/vfio");
    int group = open(group_path, O_RDWR);
    if (group < 0) {
        snprintf(group_path, sizeof group_path, "/dev/vfio/noiommu-%s", basename(target));
        group = open(group_path, O_RDWR);
        if (group < 0) die("group");
    }
    if (ioctl(group, VFIO_GROUP_SET_CONTAINER, &container)) die("VFIO_GROUP_SET_CONTAINER");
    if (ioctl(container, VFIO_SET_IOMMU, strstr(group_path, "noiommu") ? VFIO_NOIOMMU_IOMMU : VFIO_TYPE1v2_IOMMU)
        && ioctl(container, VFIO_SET_IOMMU, VFIO_TYPE1_IOMMU)) die("VFIO_SET_IOMMU");
    int dev = ioctl(group, VFIO_GROUP_GET_DEVICE_FD, bdf);
    if (dev < 0) die("VFIO_GROUP_GET_DEVICE_FD");
    struct vfio_region_info ri = {.argsz = sizeof ri, .index = VFIO_PCI_BAR0_REGION_INDEX};
    if (ioctl(dev, VFIO_DEVICE_GET_REGION_INFO, &ri)) die("VFIO_DEVICE_GET_REGION_INFO");
    uint64_t sum = 0;
    double pread_ns = 0, map_ns = 0;
    for (int pass = 0; pass < 2; pass++) {
        double t0 = now_ns();
        for (long i = 0; i < rounds; i++) {
            uint32_t v;
            if (pread(dev, &v, 4, (off_t)ri.offset) != 4) die("pread");
            sum += v;
        }
        pread_ns = (now_ns() - t0) / rounds;
    }
    volatile uint32_t *bar = mmap(NULL, ri.size, PROT_READ | PROT_WRITE, MAP_SHARED, dev, (off_t)ri.offset);
    if (bar == MAP_FAILED) die("mmap BAR0");
    for (int pass = 0; pass < 2; pass++) {
        double t0 = now_ns();
        for (long i = 0; i < rounds; i++) sum += bar[0];
        map_ns = (now_ns() - t0) / rounds;
    }
    printf("c edu 4-byte read through pread: %.0f ns per read (guest)\n", pread_ns);
    printf("c edu 4-byte read through the mapping: %.0f ns per read (guest)\n", map_ns);
    if (sum != 4ULL * rounds * 0x010000ed) { fprintf(stderr, "wrong values read\n"); return 1; }
    munmap((void *)bar, ri.size);
    close(dev);
    close(group);
    close(container);
    return 0;
}
