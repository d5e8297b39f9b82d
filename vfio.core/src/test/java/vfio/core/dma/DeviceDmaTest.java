package vfio.core.dma;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.ByteBuffer;
import java.util.EnumSet;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import vfio.api.backend.BackendCapability;
import vfio.api.device.BackendException;
import vfio.api.device.DeviceUnavailableException;
import vfio.api.device.DmaBuffer;
import vfio.api.device.NotSupportedException;
import vfio.core.device.DeviceRig;
import vfio.core.testing.MemoryBackendFactory;
import vfio.posix.MappedMemory;

/** DMA buffers on a backend that maps them a second time through their memfd, as a vfio-user server does. */
class DeviceDmaTest {
    private static final EnumSet<BackendCapability> BACKEND_CHOOSES = EnumSet.of(BackendCapability.DMA,
            BackendCapability.DMA_NEEDS_FD, BackendCapability.DMA_IOVA_CHOSEN_BY_BACKEND);
    // The memory backend chooses IOVAs from 0x40000000 up, a new range for every open.

    private DeviceRig rig;

    @AfterEach
    void close() {
        if (rig != null) {
            rig.close();
        }
    }

    private MemoryBackendFactory bind(String id, EnumSet<BackendCapability> caps) throws Exception {
        if (rig == null) {
            rig = new DeviceRig();
        }
        MemoryBackendFactory f = rig.backend(id);
        if (caps != null) {
            f.setCapabilities(caps);
        }
        rig.register(f);
        rig.awaitBoundTo(id);
        return f;
    }

    @Test
    void aBufferIsPageRoundedMappedBelowTheLimitAndSharedWithTheDevice() throws Exception {
        MemoryBackendFactory f = bind("a", null);
        DmaBuffer buf = rig.device.allocateDma(5000, 0xFFFF_FFFFL);
        assertThat(buf.size()).isEqualTo(MappedMemory.roundUpToPage(5000));
        long iova = buf.iova();
        assertThat(iova).isGreaterThanOrEqualTo(IovaAllocator.FIRST);
        assertThat(iova % MappedMemory.pageSize()).isZero();
        assertThat(iova + buf.size() - 1).isLessThanOrEqualTo(0xFFFF_FFFFL);
        assertThat(f.current().dmaMappings()).containsExactly(iova);
        f.current().dmaWrite(iova + 8, 0x1122334455667788L);   // the device writes...
        assertThat(buf.memory().getLong(8)).isEqualTo(0x1122334455667788L); // ...the driver sees it
        DmaBuffer second = rig.device.allocateDma(1, -1);
        assertThat(second.iova()).isGreaterThanOrEqualTo(iova + buf.size());
        buf.close();
        second.close();
    }

    @Test
    void closingUnmapsFromTheDeviceAndLeavesOldViewsInertButSafe() throws Exception {
        MemoryBackendFactory f = bind("a", null);
        DmaBuffer buf = rig.device.allocateDma(4096, -1);
        ByteBuffer view = buf.memory();
        view.putLong(0, 7);
        buf.close();
        buf.close(); // idempotent
        assertThat(f.current().dmaMappings()).isEmpty();
        assertThatThrownBy(buf::iova).isInstanceOf(DeviceUnavailableException.class).hasMessageContaining("closed");
        assertThatThrownBy(buf::memory).isInstanceOf(IllegalStateException.class);
        for (int i = 0; i < 3; i++) {
            System.gc();
            Thread.sleep(10);
        }
        // the view still works (the pages are not unmapped while it is reachable) but reaches nothing
        assertThat(view.getLong(0)).isZero();
        view.putLong(0, 9);
        assertThat(f.violations()).isEmpty();
    }

    @Test
    void aCoreChosenIovaStaysTheSameAcrossARebind() throws Exception {
        MemoryBackendFactory a = bind("a", null);
        DmaBuffer buf = rig.device.allocateDma(4096, -1);
        List<Long> told = new CopyOnWriteArrayList<>();
        buf.onIovaChange(told::add);
        long iova = buf.iova();
        buf.memory().putInt(0, 99);
        rig.unregister(a);
        assertThatThrownBy(buf::iova).isInstanceOf(DeviceUnavailableException.class).hasMessageContaining("a left");
        assertThat(a.opened().get(0).dmaMappings()).isEmpty();
        MemoryBackendFactory b = bind("b", null);
        assertThat(buf.iova()).isEqualTo(iova);
        assertThat(b.current().dmaMappings()).containsExactly(iova);
        assertThat(told).isEmpty();
        assertThat(buf.memory().getInt(0)).isEqualTo(99);
        buf.close();
    }

    @Test
    void aBackendChosenIovaMayChangeOnRebindAndDriversAreTold() throws Exception {
        MemoryBackendFactory a = bind("a", BACKEND_CHOOSES);
        DmaBuffer buf = rig.device.allocateDma(8192, -1);
        long first = buf.iova();
        assertThat(first).isEqualTo(a.current().iovaBase());
        List<Long> told = new CopyOnWriteArrayList<>();
        buf.onIovaChange(told::add);
        rig.unregister(a);
        MemoryBackendFactory b = bind("b", BACKEND_CHOOSES);
        long second = buf.iova();
        assertThat(second).isEqualTo(b.current().iovaBase()).isNotEqualTo(first);
        assertThat(told).containsExactly(second);
        b.current().dmaWrite(second, 5);
        assertThat(buf.memory().getLong(0)).isEqualTo(5);
        buf.close();
        assertThat(b.current().dmaMappings()).isEmpty();
    }

    @Test
    void anIovaTheDeviceCannotReachIsRefusedAndUndone() throws Exception {
        MemoryBackendFactory a = bind("a", BACKEND_CHOOSES); // picks IOVAs from 0x40000000 up
        assertThatThrownBy(() -> rig.device.allocateDma(4096, 0xFF_FFFFL)).isInstanceOf(BackendException.class)
                .hasMessageContaining("which the device cannot reach").hasMessageContaining("limit 0xffffff");
        assertThat(a.current().dmaMappings()).isEmpty();
        assertThat(a.violations()).isEmpty();
    }

    @Test
    void aBackendWithoutDmaRefusesAndBadArgumentsAreRejected() throws Exception {
        bind("a", EnumSet.of(BackendCapability.REGION_MAP));
        assertThatThrownBy(() -> rig.device.allocateDma(4096, -1)).isInstanceOf(NotSupportedException.class)
                .hasMessageContaining("cannot map DMA");
        assertThatThrownBy(() -> rig.device.allocateDma(0, -1)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> rig.device.allocateDma(1, -2)).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void buffersLeftOpenAreFreedWhenTheDeviceIsRemoved() throws Exception {
        MemoryBackendFactory a = bind("a", null);
        rig.device.allocateDma(4096, -1);
        rig.device.allocateDma(4096, -1);
        rig.device.close();
        assertThat(a.current()).isNull(); // closed
        assertThat(a.opened().get(0).dmaMappings()).isEmpty();
        assertThat(a.violations()).isEmpty();
    }
}
