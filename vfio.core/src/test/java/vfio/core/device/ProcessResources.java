package vfio.core.device;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryMXBean;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;

/**
 * What this process holds, for leak checks: descriptors that are not plain files (sockets,
 * memfds, eventfds, epoll and other anonymous inodes, pipes: what the platform creates; jars
 * the JVM opens are left out), live Java threads, lines of {@code /proc/self/maps}, and used heap
 * after a GC.
 *
 * @param fds      descriptors other than regular files
 * @param threads  live Java threads
 * @param mappings lines of /proc/self/maps
 * @param heap     bytes of heap in use after {@link System#gc()}
 */
record ProcessResources(long fds, int threads, long mappings, long heap) {

    static ProcessResources now() {
        long heap = heapAfterGc(); // first: the management bean may open a descriptor the first time
        return new ProcessResources(countFds(), Thread.getAllStackTraces().size(), countMappings(), heap);
    }

    static long countFds() {
        long n = 0;
        try (Stream<Path> s = Files.list(Path.of("/proc/self/fd"))) {
            for (Path p : (Iterable<Path>) s::iterator) {
                try {
                    String target = Files.readSymbolicLink(p).toString();
                    if (!target.startsWith("/") || target.startsWith("/memfd:")) {
                        n++;
                    }
                } catch (IOException e) {
                    // closed meanwhile (the listing's own descriptor)
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return n;
    }

    /** @return the targets of the descriptors {@link #countFds} counts, for messages */
    static List<String> fdTargets() {
        List<String> targets = new java.util.ArrayList<>();
        try (Stream<Path> s = Files.list(Path.of("/proc/self/fd"))) {
            for (Path p : (Iterable<Path>) s::iterator) {
                try {
                    String target = Files.readSymbolicLink(p).toString();
                    if (!target.startsWith("/") || target.startsWith("/memfd:")) {
                        targets.add(p.getFileName() + "->" + target);
                    }
                } catch (IOException e) {
                    // closed meanwhile
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return targets;
    }

    static long countMappings() {
        try {
            List<String> lines = Files.readAllLines(Path.of("/proc/self/maps"));
            return lines.size();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static long heapAfterGc() {
        MemoryMXBean m = ManagementFactory.getMemoryMXBean();
        for (int i = 0; i < 3; i++) {
            System.gc();
        }
        return m.getHeapMemoryUsage().getUsed();
    }

    /**
     * Waits up to 5 s for the live threads to come back to {@code baseline}'s count; returns the
     * last reading. (Descriptors are compared by {@link #awaitNoNewFds}: by count alone, one the
     * test runner opens meanwhile would look like a leak.)
     */
    static ProcessResources awaitThreads(ProcessResources baseline) throws InterruptedException {
        ProcessResources r = now();
        for (int i = 0; i < 100 && r.threads() > baseline.threads(); i++) {
            Thread.sleep(50);
            r = now();
        }
        return r;
    }

    /**
     * Waits up to 5 s until every descriptor open now was open in {@code before} (same number, same
     * target); returns those that were not.
     */
    static List<String> awaitNoNewFds(List<String> before) throws InterruptedException {
        List<String> extra = new java.util.ArrayList<>(fdTargets());
        extra.removeAll(before);
        for (int i = 0; i < 100 && !extra.isEmpty(); i++) {
            Thread.sleep(50);
            extra = new java.util.ArrayList<>(fdTargets());
            extra.removeAll(before);
        }
        return extra;
    }

    @Override
    public String toString() {
        // Descriptors are reported by the callers from fdTargets(), the list they compare.
        return threads + " threads, " + mappings + " mappings, " + heap / 1024 + " KiB heap";
    }
}
