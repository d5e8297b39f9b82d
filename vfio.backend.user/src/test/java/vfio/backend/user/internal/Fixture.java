package vfio.backend.user.internal;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import vfio.api.backend.OpenRequest;
import vfio.backend.user.internal.device.VfioUserDevice;

/** Helpers shared by the tests: opening devices on a fake server and counting descriptors. */
final class Fixture {
    private Fixture() {
    }

    /** A factory with a short connect retry. */
    static VfioUserBackendFactory factory() {
        return new VfioUserBackendFactory(Duration.ofMillis(500), List.of(), 1 << 20, true, false);
    }

    static VfioUserDevice open(FakeServer server) {
        return open(server, Duration.ofSeconds(5));
    }

    static VfioUserDevice open(FakeServer server, Duration timeout) {
        return (VfioUserDevice) factory().open(new OpenRequest("test", server.address(), timeout, Map.of()));
    }

    /** @return the number of open descriptors of this process */
    static long openFds() throws IOException {
        try (Stream<Path> s = Files.list(Path.of("/proc/self/fd"))) {
            return s.count();
        }
    }

    /** @return the targets of the open descriptors, for messages */
    static String describeFds() {
        StringBuilder b = new StringBuilder();
        try (Stream<Path> s = Files.list(Path.of("/proc/self/fd"))) {
            for (Path p : (Iterable<Path>) s::iterator) {
                try {
                    String target = Files.readSymbolicLink(p).toString();
                    b.append(p.getFileName()).append("->").append(target);
                    if (target.startsWith("socket:[")) {
                        String inode = target.substring(8, target.length() - 1);
                        for (String table : List.of("unix", "tcp", "tcp6", "udp", "udp6", "netlink")) {
                            for (String line : Files.readAllLines(Path.of("/proc/net/" + table))) {
                                if (line.contains(" " + inode + " ") || line.endsWith(" " + inode)) {
                                    b.append(" [").append(table).append(": ").append(line.trim()).append(']');
                                }
                            }
                        }
                    }
                    b.append('\n');
                } catch (IOException e) {
                    // closed meanwhile
                }
            }
        } catch (IOException e) {
            b.append(e);
        }
        return b.toString();
    }

    /**
     * @return how many descriptors of the kinds this backend creates or receives (sockets, memfds,
     *         eventfds) are open, by kind; jars and directory listings the JVM opens are left out
     */
    static java.util.Map<String, Integer> kinds() {
        java.util.Map<String, Integer> m = new java.util.TreeMap<>();
        try (Stream<Path> s = Files.list(Path.of("/proc/self/fd"))) {
            for (Path p : (Iterable<Path>) s::iterator) {
                String target;
                try {
                    target = Files.readSymbolicLink(p).toString();
                } catch (IOException e) {
                    continue;
                }
                String kind = target.startsWith("socket:") ? "socket" : target.startsWith("/memfd:") ? "memfd"
                        : target.contains("eventfd") ? "eventfd" : null;
                if (kind != null) {
                    m.merge(kind, 1, Integer::sum);
                }
            }
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
        return m;
    }

    /** Waits up to 5 s for {@link #kinds()} to equal {@code expected}; returns the last value. */
    static java.util.Map<String, Integer> awaitKinds(java.util.Map<String, Integer> expected) throws Exception {
        java.util.Map<String, Integer> k = kinds();
        for (int i = 0; i < 500 && !k.equals(expected); i++) {
            Thread.sleep(10);
            k = kinds();
        }
        return k;
    }

    /** Waits up to 5 s for the descriptor count to come back to {@code expected}; returns the last count. */
    static long awaitFds(long expected) throws Exception {
        long n = openFds();
        for (int i = 0; i < 500 && n != expected; i++) {
            Thread.sleep(10);
            n = openFds();
        }
        return n;
    }
}
