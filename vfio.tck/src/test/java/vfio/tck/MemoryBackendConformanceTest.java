package vfio.tck;

import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.DynamicNode;
import org.junit.jupiter.api.TestFactory;
import vfio.backend.memory.MemoryBackend;
import vfio.tck.broken.SeededDefects;
import vfio.tck.junit.ConformanceTests;

/**
 * What a backend author writes: the kit as JUnit dynamic tests. Runs on the memory backend with its
 * indexes guarded (see {@code IndexGuard}: the shipped backend fails the two bounds checks).
 */
class MemoryBackendConformanceTest {
    private static final MemoryDevices DEVICES = new MemoryDevices();

    @TestFactory
    Stream<DynamicNode> conformance() {
        return ConformanceTests.of(Subject.of(SeededDefects.conforming(new MemoryBackend("vfio.backend.memory", 100)),
                DEVICES.fresh("junit")).withHooks(DeviceProfiles.memoryDevice()));
    }

    @AfterAll
    static void deleteDevice() throws Exception {
        DEVICES.close();
    }
}
