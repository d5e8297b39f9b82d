package vfio.backend.user.internal;

import static vfio.backend.user.internal.FakeServer.le;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import vfio.api.backend.VfioStructs;
import vfio.api.device.DeviceInfo;
import vfio.api.device.IrqInfo;
import vfio.api.device.RegionCapability;
import vfio.api.device.RegionInfo;
import vfio.posix.Errno;
import vfio.posix.EventFd;
import vfio.posix.Fd;
import vfio.posix.MemFdSeals;
import vfio.posix.UnixSocket;
import vfio.user.protocol.ArgszFlags;
import vfio.user.protocol.Command;
import vfio.user.protocol.DmaMap;
import vfio.user.protocol.DmaUnmap;
import vfio.user.protocol.Header;
import vfio.user.protocol.Message;
import vfio.user.protocol.RegionAccess;
import vfio.user.protocol.SetIrqs;
import vfio.user.protocol.VersionPayload;

/**
 * A device answering like a well-behaved vfio-user server, for the fake server. Layout:
 * <ul>
 * <li>region 0 (BAR0): 16 KiB in a memfd at file offset 0x1000, mappable, sparse areas [0, 0x1000) and
 * [0x2000, 0x4000); messages and mappings see the same bytes;</li>
 * <li>region 1 (BAR1): 4 KiB of plain memory, read/write only;</li>
 * <li>region 7 (config): 256 bytes;</li>
 * <li>IRQs: INTx x1 (maskable, automasked), MSI x32, MSI-X x40, ERR x1, REQ x1, all eventfd.</li>
 * </ul>
 * Records what the client sent for assertions. Not thread-safe except the recorded lists.
 */
public class FakeDevice implements FakeServer.Responder {
    public static final long BAR0_FILE_OFFSET = 0x1000;
    public static final int BAR0_SIZE = 0x4000;
    public static final String DEFAULT_CAPS =
            "{ \"capabilities\": { \"max_msg_fds\": 8, \"max_data_xfer_size\": 1048576, \"migration\": { \"pgsize\": 4096 } } }";

    /** A SET_IRQS message as received. */
    public record IrqSetRecord(int flags, int index, int start, int count, int fds) {
    }

    /** A DMA_MAP as received. */
    public record DmaRecord(DmaMap map, Fd fd) {
    }

    public final Fd bar0;
    public final byte[] bar1 = new byte[4096];
    public final byte[] config = new byte[256];
    public volatile String versionJson = DEFAULT_CAPS;
    /** Whether to choose twin-socket mode when the client offers it. */
    public volatile boolean offerTwin;
    public volatile String proposedJson;
    public final List<IrqSetRecord> irqSets = new CopyOnWriteArrayList<>();
    public final Map<String, EventFd> eventfds = new HashMap<>();
    public final Map<Long, DmaRecord> dmaMaps = new HashMap<>();
    public final List<Header> requests = new CopyOnWriteArrayList<>();
    public final AtomicInteger resets = new AtomicInteger();
    public byte[] migrationData = new byte[0];
    public int migrationReadAt;
    public final java.io.ByteArrayOutputStream migrationIn = new java.io.ByteArrayOutputStream();
    public volatile int migrationState = 2;

    public FakeDevice() throws Exception {
        bar0 = MemFdSeals.createSealed("fake-bar0", BAR0_FILE_OFFSET + BAR0_SIZE);
    }

    /** @return region 0's info as this device reports it */
    public static RegionInfo bar0Info() {
        return new RegionInfo(0, RegionInfo.FLAG_READ | RegionInfo.FLAG_WRITE | RegionInfo.FLAG_MMAP, BAR0_SIZE,
                BAR0_FILE_OFFSET, List.of(new RegionCapability.SparseMmap(List.of(
                        new RegionCapability.SparseArea(0, 0x1000), new RegionCapability.SparseArea(0x2000, 0x2000)))));
    }

    public RegionInfo regionInfo(int index) {
        return switch (index) {
            case 0 -> bar0Info();
            case 1 -> new RegionInfo(1, RegionInfo.FLAG_READ | RegionInfo.FLAG_WRITE, bar1.length, 0);
            case 7 -> new RegionInfo(7, RegionInfo.FLAG_READ | RegionInfo.FLAG_WRITE, config.length, 0);
            default -> new RegionInfo(index, 0, 0, 0);
        };
    }

    public IrqInfo irqInfo(int index) {
        return switch (index) {
            case 0 -> new IrqInfo(0, IrqInfo.FLAG_EVENTFD | IrqInfo.FLAG_MASKABLE | IrqInfo.FLAG_AUTOMASKED, 1);
            case 1 -> new IrqInfo(1, IrqInfo.FLAG_EVENTFD | IrqInfo.FLAG_MASKABLE, 32);
            case 2 -> new IrqInfo(2, IrqInfo.FLAG_EVENTFD | IrqInfo.FLAG_NORESIZE, 40);
            default -> new IrqInfo(index, IrqInfo.FLAG_EVENTFD, 1);
        };
    }

    /** Raises vector {@code vector} of IRQ {@code index} through the client's eventfd. */
    public synchronized boolean raise(int index, int vector) throws Exception {
        EventFd e = eventfds.get(index + "/" + vector);
        if (e == null) {
            return false;
        }
        e.signal();
        return true;
    }

    @Override
    public void respond(FakeServer.Peer peer, Message m) throws Exception {
        Header h = m.header();
        requests.add(h);
        Command c = h.commandOrNull();
        ByteBuffer b = m.body();
        if (c == null) {
            peer.error(m, Errno.ENOSYS);
            return;
        }
        switch (c) {
            case VERSION -> {
                VersionPayload v = VersionPayload.decode(b);
                proposedJson = v.capabilities().toJson();
                boolean twin = offerTwin && v.capabilities().twinSocket().map(t -> t.supported()).orElse(false);
                String text = twin ? versionJson.replaceFirst("\\{\\s*\"capabilities\"\\s*:\\s*\\{",
                        "{\"capabilities\":{\"twin_socket\":{\"supported\":true,\"fd_index\":0},") : versionJson;
                byte[] json = text.getBytes(StandardCharsets.UTF_8);
                ByteBuffer r = le(4 + json.length + 1).putShort((short) 0).putShort((short) 1).put(json).put((byte) 0);
                if (twin) {
                    UnixSocket[] pair = UnixSocket.pair();
                    try {
                        peer.reply(m, r.flip(), pair[1].fd().value());
                    } finally {
                        pair[1].close();
                    }
                    peer.twin(pair[0]);
                } else {
                    peer.reply(m, r.flip());
                }
            }
            case DEVICE_GET_INFO -> {
                ByteBuffer r = le(16);
                VfioStructs.encodeDeviceInfo(new DeviceInfo(DeviceInfo.FLAG_PCI | DeviceInfo.FLAG_RESET, 9, 5), r);
                peer.reply(m, r.flip());
            }
            case DEVICE_GET_REGION_INFO -> {
                int argsz = b.getInt(0);
                int index = b.getInt(8);
                if (index < 0 || index >= 9) {
                    peer.error(m, Errno.EINVAL);
                    return;
                }
                RegionInfo info = regionInfo(index);
                ByteBuffer r = le(Math.max(VfioStructs.regionInfoSize(info), 32));
                int n = VfioStructs.encodeRegionInfo(info, r, argsz);
                boolean full = argsz >= VfioStructs.regionInfoSize(info);
                if (index == 0 && full) {
                    peer.reply(m, r.flip().limit(n), bar0.value());
                } else {
                    peer.reply(m, r.flip().limit(n));
                }
            }
            case DEVICE_GET_IRQ_INFO -> {
                ByteBuffer r = le(16);
                VfioStructs.encodeIrqInfo(irqInfo(b.getInt(8)), r);
                peer.reply(m, r.flip());
            }
            case DEVICE_SET_IRQS -> setIrqs(peer, m, SetIrqs.decode(b));
            case REGION_READ -> {
                RegionAccess a = RegionAccess.decode(b, 1 << 20, "REGION_READ");
                byte[] data = read(a);
                if (data == null) {
                    peer.error(m, Errno.EINVAL);
                    return;
                }
                ByteBuffer r = le(16 + data.length);
                a.encode(r);
                peer.reply(m, r.put(data).flip());
            }
            case REGION_WRITE -> {
                RegionAccess a = RegionAccess.decode(b, 1 << 20, "REGION_WRITE");
                byte[] data = new byte[a.count()];
                b.get(data);
                boolean ok = write(a, data);
                if (h.noReply()) {
                    return;
                }
                if (!ok) {
                    peer.error(m, Errno.EINVAL);
                    return;
                }
                ByteBuffer r = le(16);
                a.encode(r);
                peer.reply(m, r.flip());
            }
            case DMA_MAP -> {
                DmaMap d = DmaMap.decode(b);
                List<Fd> fds = m.takeFds();
                synchronized (this) {
                    dmaMaps.put(d.address(), new DmaRecord(d, fds.isEmpty() ? null : fds.get(0)));
                }
                peer.reply(m, null);
            }
            case DMA_UNMAP -> {
                DmaUnmap d = DmaUnmap.decode(b);
                DmaRecord rec;
                synchronized (this) {
                    rec = dmaMaps.remove(d.address());
                }
                if (rec == null) {
                    peer.error(m, Errno.EINVAL);
                    return;
                }
                if (rec.fd() != null) {
                    rec.fd().close();
                }
                peer.reply(m, d.encode());
            }
            case DEVICE_RESET -> {
                resets.incrementAndGet();
                peer.reply(m, null);
            }
            case DEVICE_FEATURE -> feature(peer, m, ArgszFlags.decode(b, "feature"), b);
            case MIG_DATA_READ -> {
                ArgszFlags a = ArgszFlags.decode(b, "mig read");
                int n = Math.min(a.flags(), migrationData.length - migrationReadAt);
                // Padded reply: the data is followed by junk the client must ignore.
                ByteBuffer r = le(8 + n + 5);
                new ArgszFlags(8 + n, n).encode(r);
                r.position(8);
                r.put(migrationData, migrationReadAt, n).put(new byte[] {9, 9, 9, 9, 9});
                migrationReadAt += n;
                peer.reply(m, r.flip());
            }
            case MIG_DATA_WRITE -> {
                ArgszFlags a = ArgszFlags.decode(b, "mig write");
                byte[] data = new byte[a.flags()];
                b.position(8);
                b.get(data);
                migrationIn.write(data);
                peer.reply(m, null);
            }
            case DEVICE_GET_REGION_IO_FDS -> {
                int index = b.getInt(8);
                if (index == 0) {
                    try (EventFd ev = EventFd.create()) {
                        ByteBuffer r = le(16 + 40);
                        r.putInt(16 + 40).putInt(0).putInt(0).putInt(1);
                        r.putLong(0x100).putLong(4).putInt(0).putInt(0).putInt(1).putInt(0).putLong(0xabcd);
                        peer.reply(m, r.flip(), ev.fd().value());
                    }
                } else {
                    ByteBuffer r = le(16);
                    r.putInt(16).putInt(0).putInt(index).putInt(0);
                    peer.reply(m, r.flip());
                }
            }
            default -> peer.error(m, Errno.ENOSYS);
        }
    }

    private synchronized void setIrqs(FakeServer.Peer peer, Message m, SetIrqs s) throws Exception {
        List<Fd> fds = m.takeFds();
        irqSets.add(new IrqSetRecord(s.flags(), s.index(), s.start(), s.count(), fds.size()));
        if (s.dataType() == SetIrqs.DATA_EVENTFD && s.actionType() == SetIrqs.ACTION_TRIGGER) {
            if (!fds.isEmpty() && fds.size() != s.count()) {
                fds.forEach(Fd::close);
                peer.error(m, Errno.EINVAL);
                return;
            }
            for (int i = 0; i < s.count(); i++) {
                EventFd old = fds.isEmpty() ? eventfds.remove(s.index() + "/" + (s.start() + i))
                        : eventfds.put(s.index() + "/" + (s.start() + i), EventFd.adopt(fds.get(i)));
                if (old != null) {
                    old.close();
                }
            }
        } else {
            fds.forEach(Fd::close);
            if (s.dataType() == SetIrqs.DATA_NONE && s.actionType() == SetIrqs.ACTION_TRIGGER && s.count() == 0) {
                eventfds.keySet().removeIf(k -> {
                    if (k.startsWith(s.index() + "/")) {
                        eventfds.get(k).close();
                        return true;
                    }
                    return false;
                });
            } else if (s.dataType() == SetIrqs.DATA_NONE && s.actionType() == SetIrqs.ACTION_TRIGGER) {
                for (int i = 0; i < s.count(); i++) {
                    EventFd e = eventfds.get(s.index() + "/" + (s.start() + i));
                    if (e != null) {
                        e.signal();
                    }
                }
            }
        }
        peer.reply(m, null);
    }

    private void feature(FakeServer.Peer peer, Message m, ArgszFlags a, ByteBuffer b) throws Exception {
        int feature = a.flags() & 0xffff;
        boolean get = (a.flags() & (1 << 16)) != 0;
        boolean set = (a.flags() & (1 << 17)) != 0;
        boolean probe = (a.flags() & (1 << 18)) != 0;
        if ((feature == 1 || feature == 2) && probe) {
            ByteBuffer r = le(8);
            a.encode(r);
            peer.reply(m, r.flip());
        } else if (feature == 1 && get) {
            ByteBuffer r = le(16);
            new ArgszFlags(16, a.flags()).encode(r);
            r.position(8);
            r.putLong(1); // VFIO_MIGRATION_STOP_COPY
            peer.reply(m, r.flip());
        } else if (feature == 2 && set) {
            migrationState = b.getInt(8);
            ByteBuffer r = le(16);
            new ArgszFlags(16, a.flags()).encode(r);
            r.position(8);
            r.putInt(migrationState).putInt(-1);
            peer.reply(m, r.flip());
        } else {
            peer.error(m, Errno.ENOTTY);
        }
    }

    private byte[] read(RegionAccess a) throws Exception {
        byte[] data = new byte[a.count()];
        switch (a.region()) {
            case 0 -> {
                if (a.offset() + a.count() > BAR0_SIZE) {
                    return null;
                }
                ByteBuffer d = ByteBuffer.allocate(a.count());
                while (d.hasRemaining()) {
                    bar0.pread(d, BAR0_FILE_OFFSET + a.offset() + d.position());
                }
                return d.array();
            }
            case 1 -> {
                if (a.offset() + a.count() > bar1.length) {
                    return null;
                }
                synchronized (bar1) {
                    System.arraycopy(bar1, (int) a.offset(), data, 0, a.count());
                }
                return data;
            }
            case 7 -> {
                if (a.offset() + a.count() > config.length) {
                    return null;
                }
                System.arraycopy(config, (int) a.offset(), data, 0, a.count());
                return data;
            }
            default -> {
                return null;
            }
        }
    }

    private boolean write(RegionAccess a, byte[] data) throws Exception {
        switch (a.region()) {
            case 0 -> {
                if (a.offset() + a.count() > BAR0_SIZE) {
                    return false;
                }
                ByteBuffer d = ByteBuffer.wrap(data);
                while (d.hasRemaining()) {
                    bar0.pwrite(d, BAR0_FILE_OFFSET + a.offset() + d.position());
                }
                return true;
            }
            case 1 -> {
                if (a.offset() + a.count() > bar1.length) {
                    return false;
                }
                synchronized (bar1) {
                    System.arraycopy(data, 0, bar1, (int) a.offset(), a.count());
                }
                return true;
            }
            case 7 -> {
                if (a.offset() + a.count() > config.length) {
                    return false;
                }
                System.arraycopy(data, 0, config, (int) a.offset(), a.count());
                return true;
            }
            default -> {
                return false;
            }
        }
    }

    /** Closes what the device holds (memfd, received eventfds and DMA fds). */
    public synchronized void release() {
        bar0.close();
        eventfds.values().forEach(EventFd::close);
        eventfds.clear();
        for (DmaRecord r : dmaMaps.values()) {
            if (r.fd() != null) {
                r.fd().close();
            }
        }
        dmaMaps.clear();
    }

    /** @return the client's SET_IRQS messages so far */
    public List<IrqSetRecord> irqSets() {
        return new ArrayList<>(irqSets);
    }
}
