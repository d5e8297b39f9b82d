package vfio.core.testing;

import java.util.EnumSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import vfio.api.backend.BackendCapability;
import vfio.api.backend.BackendFactory;
import vfio.api.backend.DeviceIoOps;
import vfio.api.backend.Match;
import vfio.api.backend.OpenRequest;
import vfio.api.device.BackendException;

/**
 * A backend factory serving one {@link MemoryDevice}. Every {@link #open} returns fresh operations
 * over the same memory. Knobs (volatile, change them any time): the match score, the capabilities,
 * an open failure, a delay in open, and whether the backend picks DMA IOVAs itself (then each
 * open uses a different IOVA range, to exercise the core's remapping).
 */
public final class MemoryBackendFactory implements BackendFactory {
    private final String id;
    private final MemoryDevice device;
    private final List<MemoryDeviceOps> opened = new CopyOnWriteArrayList<>();
    /** Shared by all factories, so that every open picks IOVAs from a range of its own. */
    private static final AtomicLong IOVA_BASE = new AtomicLong(0x4000_0000L);

    volatile int score = Match.DEFAULT_SCORE;
    volatile Set<BackendCapability> capabilities = EnumSet.of(BackendCapability.REGION_MAP, BackendCapability.DMA,
            BackendCapability.DMA_NEEDS_FD, BackendCapability.IRQ_SIGNAL_FD, BackendCapability.POSTED_WRITES);
    volatile String failOpen;
    volatile long openDelayMillis;
    volatile java.util.concurrent.CountDownLatch openGate;
    volatile boolean verifyRevocation = true;

    final AtomicInteger opens = new AtomicInteger();
    final AtomicInteger closes = new AtomicInteger();
    final AtomicInteger regionMaps = new AtomicInteger();
    final AtomicInteger regionUnmaps = new AtomicInteger();
    final AtomicInteger regionReads = new AtomicInteger();
    final AtomicInteger regionWrites = new AtomicInteger();
    /** Contract violations seen: unmap of unrevoked memory, unknown areas, calls after close, ... */
    final List<String> violations = new CopyOnWriteArrayList<>();

    /**
     * @param id     the backend id ({@code vfio.backend.id})
     * @param device the device it serves
     */
    public MemoryBackendFactory(String id, MemoryDevice device) {
        this.id = id;
        this.device = device;
    }

    @Override
    public String id() {
        return id;
    }

    @Override
    public Match match(String address) {
        if (!device.address().equals(address)) {
            return Match.no("not the address of this memory device (" + device.address() + ")");
        }
        int s = score;
        return s > 0 ? Match.of(s, "memory device") : Match.no("score set to 0 by the test");
    }

    @Override
    public DeviceIoOps open(OpenRequest request) {
        long delay = openDelayMillis;
        if (delay > 0) {
            try {
                Thread.sleep(delay);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        java.util.concurrent.CountDownLatch gate = openGate;
        if (gate != null) {
            try {
                if (!gate.await(30, java.util.concurrent.TimeUnit.SECONDS)) {
                    throw new vfio.api.device.DeviceUnavailableException("test open gate never opened");
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        String fail = failOpen;
        if (fail != null) {
            throw new BackendException("OPEN", 5, "EIO", fail);
        }
        opens.incrementAndGet();
        MemoryDeviceOps ops = new MemoryDeviceOps(this, device, EnumSet.copyOf(capabilities.isEmpty()
                ? EnumSet.noneOf(BackendCapability.class) : capabilities), IOVA_BASE.getAndAdd(0x1000_0000L));
        opened.add(ops);
        return ops;
    }

    /** @return the operations opened so far, oldest first */
    public List<MemoryDeviceOps> opened() {
        return List.copyOf(opened);
    }

    /** @return the operations opened last and not closed, or null */
    public MemoryDeviceOps current() {
        for (int i = opened.size() - 1; i >= 0; i--) {
            MemoryDeviceOps o = opened.get(i);
            if (!o.isClosed()) {
                return o;
            }
        }
        return null;
    }

    // Knobs and counters for tests in other packages.

    public void setScore(int score) {
        this.score = score;
    }

    public void setCapabilities(Set<BackendCapability> capabilities) {
        this.capabilities = capabilities.isEmpty() ? EnumSet.noneOf(BackendCapability.class) : EnumSet.copyOf(capabilities);
    }

    public void failOpen(String message) {
        this.failOpen = message;
    }

    public void setOpenDelayMillis(long millis) {
        this.openDelayMillis = millis;
    }

    /** Makes {@link #open} wait until {@code gate} is released (null: do not wait). */
    public void holdOpen(java.util.concurrent.CountDownLatch gate) {
        this.openGate = gate;
    }

    public void setVerifyRevocation(boolean verify) {
        this.verifyRevocation = verify;
    }

    public int opens() {
        return opens.get();
    }

    public int closes() {
        return closes.get();
    }

    public int regionMaps() {
        return regionMaps.get();
    }

    public int regionUnmaps() {
        return regionUnmaps.get();
    }

    public int regionReads() {
        return regionReads.get();
    }

    public int regionWrites() {
        return regionWrites.get();
    }

    public List<String> violations() {
        return List.copyOf(violations);
    }
}
