package vfio.backend.memory;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import vfio.api.backend.DeviceIoOps;
import vfio.api.backend.DmaMemory;
import vfio.api.backend.IrqSet;
import vfio.api.backend.IrqSignal;
import vfio.api.backend.MappedArea;
import vfio.api.backend.OpenRequest;
import vfio.api.device.BackendException;
import vfio.api.device.Pci;
import vfio.api.device.RegionCapability.SparseArea;
import vfio.api.device.RegionInfo;
import vfio.posix.MappedMemory;

class MemoryBackendTest {
    private final MemoryBackend backend = new MemoryBackend("vfio.backend.memory", 100);
    private final String name = "t" + ProcessHandle.current().pid() + "-" + System.nanoTime();
    private final List<DeviceIoOps> opened = new ArrayList<>();

    @AfterEach
    void cleanup() throws Exception {
        opened.forEach(DeviceIoOps::close);
        java.nio.file.Files.deleteIfExists(java.nio.file.Path.of(MemoryBackend.STORE_DIR, name));
    }

    private DeviceIoOps open() {
        DeviceIoOps ops = backend.open(OpenRequest.of("t", "memory:" + name));
        opened.add(ops);
        return ops;
    }

    @Test
    void matchesOnlyWellFormedMemoryAddresses() {
        assertThat(backend.match("memory:dev0").score()).isEqualTo(100);
        assertThat(backend.match("pci:0000:00:02.0").matches()).isFalse();
        assertThat(backend.match("memory:../../etc/passwd").reason()).contains("must be");
        assertThat(backend.match("memory:").matches()).isFalse();
    }

    @Test
    void mappedAreasAndRegionReadWriteSeeTheSameBytesAndStateSurvivesAReopen() throws Exception {
        DeviceIoOps ops = open();
        RegionInfo bar0 = ops.regionInfo(0);
        assertThat(bar0.sparseAreas()).isPresent();
        List<MappedArea> areas = ops.regionMap(bar0, bar0.sparseAreas().get());
        assertThat(areas).hasSize(2);
        ByteBuffer view = MappedMemory.adopt(areas.get(1).address(), areas.get(1).size()).view();
        view.putInt(0x10, 0xfeedbeef); // region offset 0x8010
        ByteBuffer dst = le(4);
        ops.regionRead(0, 0x8010, dst);
        assertThat(dst.getInt(0)).isEqualTo(0xfeedbeef);
        ops.regionWrite(0, 0x4000, le(4).putInt(0, 77), false); // the hole: slow path only
        RegionInfo bar2 = ops.regionInfo(2);
        assertThat(bar2.sparseAreas()).isEmpty();
        assertThat(bar2.has(RegionInfo.FLAG_MMAP)).isTrue();
        List<MappedArea> whole = ops.regionMap(bar2, List.of(new SparseArea(0, bar2.size())));
        MappedMemory.adopt(whole.get(0).address(), whole.get(0).size()).view().putLong(0xFFF8, 0x2222);
        ByteBuffer bar2Last = le(8);
        ops.regionRead(2, 0xFFF8, bar2Last);
        assertThat(bar2Last.getLong(0)).isEqualTo(0x2222); // BAR2's own file range, not BAR0's
        ops.close();
        DeviceIoOps again = open();
        ByteBuffer back = le(4);
        again.regionRead(0, 0x4000, back);
        assertThat(back.getInt(0)).isEqualTo(77);
        assertThat(again.regionInfo(Pci.REGION_CONFIG).size()).isEqualTo(4096);
        ByteBuffer id = le(4);
        again.regionRead(Pci.REGION_CONFIG, 0, id);
        assertThat(id.getInt(0)).isEqualTo(0xbeef1234);
    }

    @Test
    void aWriteToTheFireRegisterSignalsTheVectorUnlessMasked() {
        DeviceIoOps ops = open();
        AtomicInteger fired = new AtomicInteger();
        IrqSignal signal = new IrqSignal() {
            public int fd() {
                return -1;
            }

            public void signal() {
                fired.incrementAndGet();
            }
        };
        ops.setIrqs(new IrqSet(Pci.IRQ_MSI, IrqSet.Action.TRIGGER, 2, 1, new IrqSet.Data.Signals(List.of(signal))));
        ops.regionWrite(1, MemoryDevice.REG_FIRE, le(4).putInt(0, 2), false);
        assertThat(fired).hasValue(1);
        ops.setIrqs(IrqSet.one(Pci.IRQ_MSI, IrqSet.Action.MASK, 2));
        ops.regionWrite(1, MemoryDevice.REG_FIRE, le(4).putInt(0, 2), false);
        assertThat(fired).hasValue(1);
        ops.setIrqs(IrqSet.one(Pci.IRQ_MSI, IrqSet.Action.UNMASK, 2));
        ops.setIrqs(IrqSet.one(Pci.IRQ_MSI, IrqSet.Action.TRIGGER, 2));
        assertThat(fired).hasValue(2);
        assertThatThrownBy(() -> ops.setIrqs(IrqSet.one(Pci.IRQ_MSI, IrqSet.Action.TRIGGER, 4)))
                .isInstanceOf(BackendException.class).hasMessageContaining("it has 4");
    }

    @Test
    void theDmaEngineCopiesIntoMappedMemoryOnlyAndOverlapsAreRefused() throws Exception {
        DeviceIoOps ops = open();
        MappedMemory mem = MappedMemory.anonymous(8192);
        DmaMemory dma = new DmaMemory() {
            public long address() {
                return mem.address();
            }

            public long size() {
                return 8192;
            }

            public int fd() {
                return -1;
            }

            public long fdOffset() {
                return 0;
            }

            public ByteBuffer memory() {
                return mem.view();
            }
        };
        assertThat(ops.dmaMap(dma, 0x100000, true, true)).isEqualTo(0x100000);
        assertThatThrownBy(() -> ops.dmaMap(dma, 0x101000, true, true)).hasMessageContaining("EEXIST");
        ops.regionWrite(0, 0, ByteBuffer.wrap("hello".getBytes()), false);
        ops.regionWrite(1, MemoryDevice.REG_DMA_ADDRESS, le(16).putLong(0, 0x100010).putLong(8, 5), false);
        ops.regionWrite(1, MemoryDevice.REG_DMA_START, le(4).putInt(0, 1), false);
        byte[] got = new byte[5];
        mem.view().position(0x10).get(got);
        assertThat(new String(got)).isEqualTo("hello");
        ops.dmaUnmap(0x100000, 8192);
        assertThatThrownBy(() -> ops.dmaUnmap(0x100000, 8192)).hasMessageContaining("EINVAL");
        mem.unmap();
    }

    private static ByteBuffer le(int n) {
        return ByteBuffer.allocate(n).order(ByteOrder.LITTLE_ENDIAN);
    }
}
