package vfio.tck;

import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.DynamicNode;
import org.junit.jupiter.api.TestFactory;
import vfio.backend.memory.MemoryBackend;
import vfio.tck.junit.ConformanceTests;

/** What a backend author writes: the kit as JUnit dynamic tests, here on the memory backend. */
class MemoryBackendConformanceTest {
    private static final MemoryDevices DEVICES = new MemoryDevices();

    @TestFactory
    Stream<DynamicNode> conformance() {
        return ConformanceTests.of(Subject.of(new MemoryBackend("vfio.backend.memory", 100),
                DEVICES.fresh("junit")).withHooks(DeviceProfiles.memoryDevice()));
    }

    @AfterAll
    static void deleteDevice() throws Exception {
        DEVICES.close();
    }
}
