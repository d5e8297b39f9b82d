package vfio.tck;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;

/** Fresh memory-device addresses for a test class, whose files in /dev/shm are deleted afterwards. */
final class MemoryDevices implements AutoCloseable {
    private static final Path STORE = Path.of("/dev/shm/vfio-memory");
    private static final AtomicInteger NEXT = new AtomicInteger();
    private final List<String> names = new ArrayList<>();

    /** @return the address of a device no other test uses */
    String fresh(String purpose) {
        String name = "tck-" + purpose + "-" + ProcessHandle.current().pid() + "-" + NEXT.incrementAndGet();
        names.add(name);
        return "memory:" + name;
    }

    @Override
    public void close() throws IOException {
        for (String n : names) {
            Files.deleteIfExists(STORE.resolve(n));
        }
    }
}
