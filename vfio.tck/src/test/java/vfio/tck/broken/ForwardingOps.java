package vfio.tck.broken;

import java.nio.ByteBuffer;
import java.util.List;
import java.util.Set;
import vfio.api.backend.BackendCapability;
import vfio.api.backend.DeviceIoOps;
import vfio.api.backend.DmaMemory;
import vfio.api.backend.IrqSet;
import vfio.api.backend.MappedArea;
import vfio.api.device.DeviceInfo;
import vfio.api.device.IrqInfo;
import vfio.api.device.RegionCapability.SparseArea;
import vfio.api.device.RegionInfo;

/** Forwards every call to another device's operations; a seeded defect overrides one behaviour. */
class ForwardingOps implements DeviceIoOps {
    protected final DeviceIoOps delegate;

    ForwardingOps(DeviceIoOps delegate) {
        this.delegate = delegate;
    }

    @Override
    public DeviceInfo deviceInfo() {
        return delegate.deviceInfo();
    }

    @Override
    public Set<BackendCapability> capabilities() {
        return delegate.capabilities();
    }

    @Override
    public byte[] deviceFeature(int flags, byte[] payload) {
        return delegate.deviceFeature(flags, payload);
    }

    @Override
    public RegionInfo regionInfo(int index) {
        return delegate.regionInfo(index);
    }

    @Override
    public IrqInfo irqInfo(int index) {
        return delegate.irqInfo(index);
    }

    @Override
    public void setIrqs(IrqSet set) {
        delegate.setIrqs(set);
    }

    @Override
    public void regionRead(int index, long offset, ByteBuffer dst) {
        delegate.regionRead(index, offset, dst);
    }

    @Override
    public void regionWrite(int index, long offset, ByteBuffer src, boolean posted) {
        delegate.regionWrite(index, offset, src, posted);
    }

    @Override
    public List<MappedArea> regionMap(RegionInfo region, List<SparseArea> areas) {
        return delegate.regionMap(region, areas);
    }

    @Override
    public void regionUnmap(int index, List<MappedArea> areas) {
        delegate.regionUnmap(index, areas);
    }

    @Override
    public void reset() {
        delegate.reset();
    }

    @Override
    public long dmaMap(DmaMemory memory, long iova, boolean deviceReads, boolean deviceWrites) {
        return delegate.dmaMap(memory, iova, deviceReads, deviceWrites);
    }

    @Override
    public void dmaUnmap(long iova, long size) {
        delegate.dmaUnmap(iova, size);
    }

    @Override
    public void close() {
        delegate.close();
    }
}
