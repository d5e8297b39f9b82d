package vfio.tck.internal;

import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * What this process holds, from Linux's {@code /proc/self}: open descriptors and memory mappings.
 * Used to find leaks (by comparing snapshots) and to make sure an address range is mapped before the
 * kit touches it, so that a backend returning a bogus address fails a check instead of crashing the
 * JVM.
 */
final class ProcSelf {
    private static final Path FD_DIR = Path.of("/proc/self/fd");
    private static final Path MAPS = Path.of("/proc/self/maps");

    private ProcSelf() {
    }

    /** @return whether /proc/self is there (Linux) */
    static boolean available() {
        return Files.isDirectory(FD_DIR) && Files.isReadable(MAPS);
    }

    /** One line of {@code /proc/self/maps}. */
    record Mapping(long start, long end, String perms, long inode, String path) {
        boolean readable() {
            return perms.charAt(0) == 'r';
        }

        boolean writable() {
            return perms.charAt(1) == 'w';
        }

        boolean shared() {
            return perms.charAt(3) == 's';
        }

        /** Private anonymous memory, as a revoked range is. */
        boolean privateAnonymous() {
            return perms.charAt(3) == 'p' && inode == 0 && path.isEmpty();
        }

        /** A mapping of a file or shared memory: what a backend maps from a device, server or dext. */
        boolean deviceLike() {
            return (inode != 0 || shared()) && !noise(path);
        }

        @Override
        public String toString() {
            return String.format(Locale.ROOT, "%x-%x %s %s", start, end, perms, path.isEmpty() ? "(anonymous)" : path);
        }
    }

    /** @return the current mappings, sorted by address */
    static List<Mapping> maps() {
        List<String> lines;
        try {
            lines = Files.readAllLines(MAPS);
        } catch (IOException e) {
            throw new Problem("cannot read " + MAPS + ": " + e.getMessage());
        }
        List<Mapping> maps = new ArrayList<>(lines.size());
        for (String line : lines) {
            String[] f = line.trim().split("\\s+", 6);
            if (f.length < 5) {
                continue;
            }
            int dash = f[0].indexOf('-');
            maps.add(new Mapping(Long.parseUnsignedLong(f[0].substring(0, dash), 16),
                    Long.parseUnsignedLong(f[0].substring(dash + 1), 16), f[1], Long.parseLong(f[4]),
                    f.length == 6 ? f[5] : ""));
        }
        return maps;
    }

    /**
     * @return whether every byte of {@code [address, address+size)} lies in a mapping that satisfies
     *         {@code test}
     */
    static boolean covered(List<Mapping> maps, long address, long size, java.util.function.Predicate<Mapping> test) {
        long at = address;
        long end = address + size;
        for (Mapping m : maps) {
            if (Long.compareUnsigned(m.end(), at) <= 0) {
                continue;
            }
            if (Long.compareUnsigned(m.start(), at) > 0 || !test.test(m)) {
                return false;
            }
            at = m.end();
            if (Long.compareUnsigned(at, end) >= 0) {
                return true;
            }
        }
        return false;
    }

    /** @return the mappings that overlap {@code [address, address+size)} */
    static List<Mapping> overlapping(List<Mapping> maps, long address, long size) {
        List<Mapping> out = new ArrayList<>();
        for (Mapping m : maps) {
            if (Long.compareUnsigned(m.start(), address + size) < 0 && Long.compareUnsigned(m.end(), address) > 0) {
                out.add(m);
            }
        }
        return out;
    }

    /** @return open descriptors as "fd -> target", without class-loading noise */
    static Set<String> descriptors() {
        TreeMap<Integer, String> fds = new TreeMap<>();
        try (DirectoryStream<Path> dir = Files.newDirectoryStream(FD_DIR)) {
            for (Path p : dir) {
                try {
                    fds.put(Integer.parseInt(p.getFileName().toString()), Files.readSymbolicLink(p).toString());
                } catch (IOException | NumberFormatException e) {
                    // closed between listing and reading: it is not open any more
                }
            }
        } catch (IOException e) {
            throw new Problem("cannot list " + FD_DIR + ": " + e.getMessage());
        }
        Set<String> out = new TreeSet<>();
        fds.forEach((fd, target) -> {
            if (!noise(target) && !target.startsWith("/proc/")) {
                out.add(fd + " -> " + target);
            }
        });
        return out;
    }

    /** @return the mappings a backend could have made (files, shared memory), as strings */
    static Set<String> deviceMappings() {
        Set<String> out = new TreeSet<>();
        for (Mapping m : maps()) {
            if (m.deviceLike()) {
                out.add(m.toString());
            }
        }
        return out;
    }

    /** Files the JVM itself opens and maps as it loads classes and libraries. */
    private static boolean noise(String path) {
        return path.endsWith(".jar") || path.endsWith(".so") || path.contains(".so.") || path.endsWith(".jsa")
                || path.contains("hsperfdata") || path.startsWith("[") || path.endsWith("/modules");
    }
}
