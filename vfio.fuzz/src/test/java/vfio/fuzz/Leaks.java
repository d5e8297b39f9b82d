package vfio.fuzz;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;

/** Counts of what a fuzz execution must give back: descriptors and threads of this process. */
final class Leaks {
    private Leaks() {
    }

    /**
     * @return the number of open descriptors of the kinds the platform creates or receives (sockets,
     *         memfds, eventfds); jars and files the JVM and Jazzer open come and go and are left out
     */
    static long openFds() {
        long n = 0;
        try (Stream<Path> s = Files.list(Path.of("/proc/self/fd"))) {
            for (Path p : (Iterable<Path>) s::iterator) {
                String target;
                try {
                    target = Files.readSymbolicLink(p).toString();
                } catch (IOException e) {
                    continue; // closed meanwhile (the listing's own descriptor, for one)
                }
                if (target.startsWith("socket:") || target.startsWith("/memfd:") || target.contains("eventfd")) {
                    n++;
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return n;
    }

    /** @return how many live threads have a name starting with {@code prefix} */
    static long threads(String prefix) {
        return Thread.getAllStackTraces().keySet().stream().filter(t -> t.getName().startsWith(prefix)).count();
    }

    /**
     * Waits up to 5 s for the descriptor count to come back to {@code baseline} (closing is
     * immediate, but a background reader may still be leaving, and a loaded machine delays it); fails naming the difference.
     */
    static void assertFdsBackTo(long baseline, String after) throws InterruptedException {
        long n = openFds();
        for (int i = 0; i < 500 && n != baseline; i++) {
            Thread.sleep(10);
            n = openFds();
        }
        if (n != baseline) {
            throw new AssertionError(after + " left " + (n - baseline) + " descriptor(s) open (" + baseline + " before, "
                    + n + " after)");
        }
    }

    /** Waits up to 5 s for no thread named {@code prefix}... to be alive. */
    static void assertNoThreads(String prefix, String after) throws InterruptedException {
        long n = threads(prefix);
        for (int i = 0; i < 500 && n != 0; i++) {
            Thread.sleep(10);
            n = threads(prefix);
        }
        if (n != 0) {
            throw new AssertionError(after + " left " + n + " thread(s) named " + prefix + "... running");
        }
    }
}
