package vfio.tck.broken;

import java.nio.ByteBuffer;
import java.util.List;
import vfio.api.backend.DeviceIoOps;
import vfio.api.backend.IrqSet;
import vfio.api.backend.MappedArea;
import vfio.api.device.IrqInfo;
import vfio.api.device.OutOfRangeException;
import vfio.api.device.RegionCapability.SparseArea;
import vfio.api.device.RegionInfo;

/**
 * Refuses region and IRQ indexes past the device's counts, which {@code vfio.backend.memory} 0.1.0
 * does not (it answers {@code regionInfo(9)} with an empty region and fails {@code setIrqs} on index
 * 5 with an ArrayIndexOutOfBoundsException). With this guard the memory backend passes the whole kit,
 * so it is the conforming baseline on which each seeded defect is the only defect. Delete it once the
 * memory backend checks its indexes itself ({@code MemoryBackendAsShippedTest} will say so).
 */
class IndexGuard extends ForwardingOps {
    IndexGuard(DeviceIoOps delegate) {
        super(delegate);
    }

    private int region(int index) {
        if (index < 0 || index >= deviceInfo().numRegions()) {
            throw new OutOfRangeException("region index " + index + " outside [0, " + deviceInfo().numRegions() + ")");
        }
        return index;
    }

    private int irq(int index) {
        if (index < 0 || index >= deviceInfo().numIrqs()) {
            throw new OutOfRangeException("IRQ index " + index + " outside [0, " + deviceInfo().numIrqs() + ")");
        }
        return index;
    }

    @Override
    public RegionInfo regionInfo(int index) {
        return super.regionInfo(region(index));
    }

    @Override
    public IrqInfo irqInfo(int index) {
        return super.irqInfo(irq(index));
    }

    @Override
    public void setIrqs(IrqSet set) {
        irq(set.index());
        super.setIrqs(set);
    }

    @Override
    public void regionRead(int index, long offset, ByteBuffer dst) {
        super.regionRead(region(index), offset, dst);
    }

    @Override
    public void regionWrite(int index, long offset, ByteBuffer src, boolean posted) {
        super.regionWrite(region(index), offset, src, posted);
    }

    @Override
    public List<MappedArea> regionMap(RegionInfo info, List<SparseArea> areas) {
        region(info.index());
        return super.regionMap(info, areas);
    }
}
