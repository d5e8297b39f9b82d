package vfio.backend.apple.iokit;

import com.sun.jna.Memory;
import com.sun.jna.Pointer;
import com.sun.jna.ptr.IntByReference;
import com.sun.jna.ptr.LongByReference;
import vfio.backend.apple.dext.BarInfo;
import vfio.backend.apple.dext.BarMapping;
import vfio.backend.apple.dext.Bdf;
import vfio.backend.apple.dext.DextConnection;
import vfio.backend.apple.dext.DextException;
import vfio.backend.apple.dext.DextIdentity;
import vfio.backend.apple.dext.DmaRegistration;
import vfio.backend.apple.dext.KernReturn;
import vfio.backend.apple.dext.Selector;

/**
 * A user-client connection ({@code io_connect_t}) to the dext over IOKit. The scalar counts of each
 * selector are those of the QEMU RFC client ({@code apple-dext-client.c}).
 *
 * <p>Interrupt wake-ups: WaitInterrupt is armed with {@code IOConnectCallAsyncScalarMethod} on the
 * Mach port of an {@code IONotificationPort} that this connection creates on first use; the waiter
 * receives on that port itself with {@code mach_msg(MACH_RCV_MSG | MACH_RCV_TIMEOUT)} (no run loop or
 * dispatch queue). Any message from the dext counts as a completion; the message body is not parsed,
 * because the caller reads the pending bitmap next anyway. {@link #wakeWaiter()} sends a header-only
 * message with a private id to the same port.
 */
final class IOKitDextConnection implements DextConnection {
    /** msgh_id of the message {@link #wakeWaiter()} sends ('VFWK'). */
    static final int WAKE_MESSAGE_ID = 0x5646574b;
    private static final int RECEIVE_BUFFER = 4096;

    private final IOKitNative.IOKit iokit = IOKitNative.IOKit.INSTANCE;
    private final IOKitNative.Mach mach = IOKitNative.Mach.INSTANCE;
    private final int connection;
    private final int task;
    private final String description;
    private final long pageSize;
    private final Object portLock = new Object();
    private Pointer notificationPort;
    private volatile int machPort;
    private volatile boolean wakeRequested;
    private volatile boolean closed;
    private Memory receiveBuffer;

    IOKitDextConnection(int connection, String description) {
        this.connection = connection;
        this.description = description;
        this.task = mach.mach_task_self();
        this.pageSize = mach.getpagesize();
    }

    private long[] call(Selector s, long[] input, int outputs) throws DextException {
        return call(s, input, outputs, outputs);
    }

    private long[] call(Selector s, long[] input, int outputs, int required) throws DextException {
        if (closed) {
            throw new DextException(s, KernReturn.NOT_OPEN, "connection closed");
        }
        long[] out = outputs > 0 ? new long[outputs] : null;
        IntByReference count = new IntByReference(outputs);
        int kr = iokit.IOConnectCallScalarMethod(connection, s.number(), input, input == null ? 0 : input.length, out, count);
        if (kr != KernReturn.SUCCESS) {
            throw new DextException(s, kr, description);
        }
        if (count.getValue() < required) {
            throw new DextException(s, KernReturn.INTERNAL_ERROR, "the dext returned " + count.getValue()
                    + " scalars, expected " + required + " (dext version mismatch?)");
        }
        if (out != null && count.getValue() < outputs) {
            long[] shorter = new long[count.getValue()];
            System.arraycopy(out, 0, shorter, 0, shorter.length);
            return shorter;
        }
        return out;
    }

    @Override
    public DextIdentity identity() throws DextException {
        long[] o = call(Selector.GET_IDENTITY, null, 6, 3);
        Bdf bdf = new Bdf((int) (o[0] & 0xff), (int) (o[1] & 0x1f), (int) (o[2] & 0x7));
        return o.length >= 6
                ? new DextIdentity(bdf, (int) (o[3] & 0xffff), (int) (o[4] & 0xffff), (int) (o[5] & 0xffffff))
                : new DextIdentity(bdf, -1, -1, -1);
    }

    @Override
    public void claim() throws DextException {
        call(Selector.CLAIM, null, 0);
    }

    @Override
    public void terminate() throws DextException {
        call(Selector.TERMINATE, null, 0);
    }

    @Override
    public DmaRegistration registerDmaRegion(long key, long clientAddress, long size) throws DextException {
        long[] o = call(Selector.REGISTER_DMA_REGION, new long[] {key, clientAddress, size}, 3);
        return new DmaRegistration(o[0], o[1], o[2]);
    }

    @Override
    public void unregisterDmaRegion(long key) throws DextException {
        call(Selector.UNREGISTER_DMA_REGION, new long[] {key}, 0);
    }

    @Override
    public long probeDmaRegion(long key, long offset) throws DextException {
        return call(Selector.PROBE_DMA_REGION, new long[] {key, offset}, 1)[0];
    }

    @Override
    public long configRead(int offset, int width) throws DextException {
        return call(Selector.CONFIG_READ, new long[] {offset, width}, 1)[0];
    }

    @Override
    public void configWrite(int offset, int width, long value) throws DextException {
        call(Selector.CONFIG_WRITE, new long[] {offset, width, value}, 0);
    }

    @Override
    public BarInfo barInfo(int bar) throws DextException {
        long[] o = call(Selector.GET_BAR_INFO, new long[] {bar}, 3);
        return new BarInfo((int) (o[0] & 0xff), o[1], (int) (o[2] & 0xff));
    }

    @Override
    public long mmioRead(int memoryIndex, long offset, int width) throws DextException {
        return call(Selector.MMIO_READ, new long[] {memoryIndex, offset, width}, 1)[0];
    }

    @Override
    public void mmioWrite(int memoryIndex, long offset, int width, long value) throws DextException {
        call(Selector.MMIO_WRITE, new long[] {memoryIndex, offset, width, value}, 0);
    }

    @Override
    public int setupInterrupts() throws DextException {
        return (int) Math.min(call(Selector.SETUP_INTERRUPTS, null, 1)[0], VECTORS);
    }

    @Override
    public long[] checkInterrupt() throws DextException {
        long[] o = call(Selector.CHECK_INTERRUPT, null, 4, 0);
        long[] bits = new long[4];
        if (o != null) {
            System.arraycopy(o, 0, bits, 0, o.length); // missing words are zero, as in QEMU's client
        }
        return bits;
    }

    @Override
    public boolean waitInterrupt(long timeoutMillis) throws DextException {
        if (timeoutMillis <= 0) {
            throw new IllegalArgumentException("wait timeout must be positive, got " + timeoutMillis);
        }
        int port = port();
        if (wakeRequested) {
            wakeRequested = false;
            return false;
        }
        long[] reference = new long[IOKitNative.K_IO_ASYNC_CALLOUT_COUNT]; // slot 0 is filled in by the kernel
        int kr = iokit.IOConnectCallAsyncScalarMethod(connection, Selector.WAIT_INTERRUPT.number(), port, reference,
                reference.length, null, 0, null, new IntByReference(0));
        // kIOReturnBusy: a wait armed earlier (that timed out) is still armed; its completion will do.
        if (kr != KernReturn.SUCCESS && kr != KernReturn.BUSY) {
            throw new DextException(Selector.WAIT_INTERRUPT, kr, description);
        }
        int rc = mach.mach_msg(receiveBuffer, IOKitNative.MACH_RCV_MSG | IOKitNative.MACH_RCV_TIMEOUT, 0, RECEIVE_BUFFER,
                port, (int) Math.min(timeoutMillis, Integer.MAX_VALUE), 0);
        if (rc == KernReturn.SUCCESS) {
            int id = receiveBuffer.getInt(IOKitNative.MACH_MSG_HEADER_ID_OFFSET);
            mach.mach_msg_destroy(receiveBuffer); // releases any rights the message carried
            if (id == WAKE_MESSAGE_ID) {
                wakeRequested = false;
                return false;
            }
            return true;
        }
        if (rc == IOKitNative.MACH_RCV_TIMED_OUT || rc == IOKitNative.MACH_RCV_INTERRUPTED) {
            return false;
        }
        if (rc == IOKitNative.MACH_RCV_TOO_LARGE) {
            return true; // a message arrived (and was dropped): treat it as the wake-up
        }
        throw new DextException(Selector.WAIT_INTERRUPT, rc, "mach_msg receive on the notification port");
    }

    /** @return the Mach port of the notification port, created on first use */
    private int port() throws DextException {
        synchronized (portLock) {
            if (closed) {
                throw new DextException(Selector.WAIT_INTERRUPT, KernReturn.NOT_OPEN, "connection closed");
            }
            if (notificationPort == null) {
                Pointer p = iokit.IONotificationPortCreate(IOKitNative.K_IO_MAIN_PORT_DEFAULT);
                if (p == null) {
                    throw new DextException(Selector.WAIT_INTERRUPT, KernReturn.NO_RESOURCES, "IONotificationPortCreate");
                }
                notificationPort = p;
                receiveBuffer = new Memory(RECEIVE_BUFFER);
                machPort = iokit.IONotificationPortGetMachPort(p);
            }
            return machPort;
        }
    }

    @Override
    public void wakeWaiter() {
        wakeRequested = true; // seen by a waiter that has not blocked yet
        int port = machPort;
        if (port == 0) {
            return;
        }
        Memory header = new Memory(IOKitNative.MACH_MSG_HEADER_SIZE);
        header.clear();
        header.setInt(0, IOKitNative.MACH_MSG_TYPE_MAKE_SEND); // MACH_MSGH_BITS(remote = MAKE_SEND, local = 0)
        header.setInt(4, IOKitNative.MACH_MSG_HEADER_SIZE);
        header.setInt(8, port);
        header.setInt(IOKitNative.MACH_MSG_HEADER_ID_OFFSET, WAKE_MESSAGE_ID);
        // A full queue means a message is already waiting, which wakes the waiter as well.
        mach.mach_msg(header, IOKitNative.MACH_SEND_MSG | IOKitNative.MACH_SEND_TIMEOUT, IOKitNative.MACH_MSG_HEADER_SIZE,
                0, 0, 0, 0);
    }

    @Override
    public void setIrqMask(long[] mask) throws DextException {
        if (mask.length != 4) {
            throw new IllegalArgumentException("the IRQ mask has 4 words, got " + mask.length);
        }
        call(Selector.SET_IRQ_MASK, mask.clone(), 0);
    }

    @Override
    public void resetDevice() throws DextException {
        call(Selector.RESET_DEVICE, null, 0);
    }

    @Override
    public BarMapping mapBar(int bar, boolean writeCombining) throws DextException {
        LongByReference address = new LongByReference(0);
        LongByReference size = new LongByReference(0);
        // Memory type 1 + BAR is what the dext's CopyClientMemoryForType expects (not the memory index).
        int options = IOKitNative.K_IO_MAP_ANYWHERE | (writeCombining ? IOKitNative.K_IO_MAP_WRITE_COMBINE_CACHE : 0);
        int kr = iokit.IOConnectMapMemory64(connection, 1 + bar, task, address, size, options);
        if (kr != KernReturn.SUCCESS) {
            throw new DextException(Selector.MAP_BAR, kr, "BAR" + bar + ", " + description);
        }
        return new BarMapping(bar, address.getValue(), size.getValue(), writeCombining);
    }

    @Override
    public void unmapBar(BarMapping mapping) throws DextException {
        int kr = iokit.IOConnectUnmapMemory64(connection, 1 + mapping.bar(), task, mapping.address());
        if (kr != KernReturn.SUCCESS) {
            throw new DextException(Selector.UNMAP_BAR, kr, "BAR" + mapping.bar() + ", " + description);
        }
    }

    /**
     * {@code mach_vm_remap} of part of the BAR mapping (shared, not copied): a new VM entry on the same
     * device pages, with the cache mode of the original. No IOKit object refers to it, so unmapping it
     * (by the core, with munmap) does not disturb the IOKit mapping, and {@code IOConnectUnmapMemory64}
     * of the original (which deallocates the original range) does not touch it.
     */
    @Override
    public long mapAlias(BarMapping mapping, long offset, long size) throws DextException {
        if (offset < 0 || offset % pageSize != 0 || size <= 0 || offset + size > mapping.size()) {
            throw new DextException(Selector.MAP_BAR, KernReturn.BAD_ARGUMENT, "alias offset " + offset + " size " + size);
        }
        long bytes = (size + pageSize - 1) / pageSize * pageSize;
        LongByReference target = new LongByReference(0);
        IntByReference current = new IntByReference();
        IntByReference maximum = new IntByReference();
        int kr = mach.mach_vm_remap(task, target, bytes, 0, IOKitNative.VM_FLAGS_ANYWHERE, task, mapping.address() + offset,
                0 /* copy = FALSE: share the pages */, current, maximum, IOKitNative.VM_INHERIT_NONE);
        if (kr != KernReturn.SUCCESS) {
            throw new DextException(Selector.MAP_BAR, kr, "mach_vm_remap of BAR" + mapping.bar());
        }
        int rw = IOKitNative.VM_PROT_READ | IOKitNative.VM_PROT_WRITE;
        if ((current.getValue() & rw) != rw) {
            mach.mach_vm_deallocate(task, target.getValue(), bytes);
            throw new DextException(Selector.MAP_BAR, KernReturn.NOT_WRITABLE, "BAR" + mapping.bar() + " alias is not read-write");
        }
        return target.getValue();
    }

    @Override
    public void unmapAlias(long address, long size) throws DextException {
        long bytes = (size + pageSize - 1) / pageSize * pageSize;
        int kr = mach.mach_vm_deallocate(task, address, bytes);
        if (kr != KernReturn.SUCCESS) {
            throw new DextException(Selector.UNMAP_BAR, kr, "mach_vm_deallocate");
        }
    }

    @Override
    public long pageSize() {
        return pageSize;
    }

    @Override
    public void close() {
        synchronized (portLock) {
            if (closed) {
                return;
            }
            closed = true;
            if (notificationPort != null) {
                iokit.IONotificationPortDestroy(notificationPort);
                notificationPort = null;
                machPort = 0;
            }
        }
        iokit.IOServiceClose(connection);
    }
}
