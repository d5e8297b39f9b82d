package vfio.user.server.internal;

import java.io.EOFException;
import java.io.IOException;
import java.lang.System.Logger.Level;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayDeque;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import vfio.api.backend.VfioStructs;
import vfio.api.device.Pci;
import vfio.api.device.RegionInfo;
import vfio.posix.Errno;
import vfio.posix.Fd;
import vfio.posix.UnixSocket;
import vfio.user.protocol.ArgszFlags;
import vfio.user.protocol.Capabilities;
import vfio.user.protocol.Channel;
import vfio.user.protocol.Command;
import vfio.user.protocol.DmaAccess;
import vfio.user.protocol.DmaMap;
import vfio.user.protocol.DmaUnmap;
import vfio.user.protocol.Header;
import vfio.user.protocol.Message;
import vfio.user.protocol.ProtocolException;
import vfio.user.protocol.RegionAccess;
import vfio.user.protocol.SetIrqs;
import vfio.user.protocol.VersionPayload;
import vfio.user.server.DmaException;
import vfio.user.server.ServerOptions;

/**
 * One client session: the VERSION handshake, then every command in the order received, and the
 * server's own DMA_READ/DMA_WRITE requests to the client.
 *
 * <p>Threading: {@link #serve()} runs on the server thread, which alone receives from the main
 * socket. Replies to the server's DMA requests are recognised among incoming messages by their type
 * (reply) and handed to the waiting thread. When the server thread itself waits for such a reply
 * (device code doing DMA inside a register access), it keeps receiving and queues the client's
 * commands that arrive meanwhile, to run them afterwards in order. Sending is thread-safe ({@link
 * Channel}). In twin-socket mode (when the client offers it) the server's DMA commands and their
 * replies use a socket pair created at VERSION time instead, one exchange at a time.
 */
final class Connection implements DmaTransport {
    private static final System.Logger LOG = System.getLogger(Connection.class.getName());
    private static final int[] NO_FDS = new int[0];
    private static final int VERSION_MAX_SIZE = Header.SIZE + 4 + VersionPayload.MAX_JSON + 1;
    /** Room for requests without bulk data, e.g. QEMU sends GET_REGION_INFO with an argsz-sized body. */
    private static final int CONTROL_MESSAGE_ROOM = 64 * 1024;
    private static final int MAX_BACKLOG_MESSAGES = 4096;
    private static final int FEATURE_MASK = 0xffff;
    private static final int FEATURE_GET = 1 << 16;
    private static final int FEATURE_SET = 1 << 17;
    private static final int FEATURE_PROBE = 1 << 18;
    private static final int FEATURE_MIGRATION = 1;
    private static final int FEATURE_MIG_DEVICE_STATE = 2;
    private static final long MIGRATION_STOP_COPY = 1;
    private static final int ENOTTY = Errno.ENOTTY;

    private record Reply(ByteBuffer body, int[] fds) {
        static final Reply EMPTY = new Reply(null, NO_FDS);

        static Reply of(ByteBuffer body) {
            return new Reply(body, NO_FDS);
        }
    }

    private final Channel channel;
    private final DeviceModel device;
    private final ServerOptions options;
    private final Thread serverThread;
    private final MigrationFsm migration;
    private final ArrayDeque<Message> backlog = new ArrayDeque<>();
    private long backlogBytes;
    private final ConcurrentHashMap<Integer, CompletableFuture<Message>> pending = new ConcurrentHashMap<>();
    private final AtomicInteger nextId = new AtomicInteger();
    private Capabilities agreed = Capabilities.DEFAULTS;
    private int maxReceive;
    private volatile String broken;
    /** The server-to-client command channel, when twin-socket mode was negotiated. */
    private volatile Channel twin;
    private final Object twinLock = new Object();

    Connection(Channel channel, DeviceModel device, ServerOptions options) {
        this.channel = channel;
        this.device = device;
        this.options = options;
        this.serverThread = Thread.currentThread();
        this.migration = device.migration().map(h -> new MigrationFsm(h, options.maxMigrationStateSize())).orElse(null);
    }

    /** Serves the client until it disconnects, breaks the protocol or {@link #shutdown()} is called; then cleans up. */
    void serve() {
        try {
            if (handshake()) {
                device.dma().attach(this);
                loop();
            }
        } catch (EOFException e) {
            LOG.log(Level.DEBUG, () -> channel.peer() + " disconnected");
        } catch (ProtocolException e) {
            LOG.log(Level.WARNING, "disconnecting " + channel.peer() + ": " + e.getMessage());
        } catch (IOException e) {
            if (broken == null) {
                LOG.log(Level.WARNING, "connection to " + channel.peer() + " failed: " + e.getMessage());
            }
        } catch (RuntimeException e) {
            LOG.log(Level.ERROR, "internal error serving " + channel.peer() + "; disconnecting it", e);
        } finally {
            cleanup();
        }
    }

    /** Wakes the server thread and makes it end the session (from any thread). */
    void shutdown() {
        broken = "the server is closing";
        channel.shutdown();
        Channel t = twin;
        if (t != null) {
            t.shutdown(); // wakes a device thread waiting for a DMA reply
        }
    }

    private boolean handshake() throws IOException {
        Message m = channel.receive(options.handshakeTimeoutMs(), options.messageTimeoutMs(), VERSION_MAX_SIZE, 0);
        if (m == null) {
            LOG.log(Level.WARNING, channel.peer() + " sent no VERSION within " + options.handshakeTimeoutMs()
                    + " ms; disconnecting it");
            return false;
        }
        try (m) {
            Header h = m.header();
            if (h.isReply() || h.command() != Command.VERSION.code()) {
                LOG.log(Level.WARNING, channel.peer() + " began with " + h + " instead of VERSION; disconnecting it");
                sendError(h, Errno.EINVAL);
                return false;
            }
            VersionPayload proposal;
            try {
                proposal = VersionPayload.decode(m.body());
            } catch (ProtocolException e) {
                LOG.log(Level.WARNING, "bad VERSION from " + channel.peer() + ": " + e.getMessage());
                sendError(h, Errno.EINVAL);
                return false;
            }
            if (proposal.major() != VersionPayload.MAJOR) {
                LOG.log(Level.WARNING, channel.peer() + " speaks vfio-user " + proposal.major() + "." + proposal.minor()
                        + ", this server " + VersionPayload.MAJOR + "." + VersionPayload.MINOR + "; disconnecting it");
                sendError(h, Errno.EOPNOTSUPP);
                return false;
            }
            boolean twinOffered = proposal.capabilities().twinSocket().map(Capabilities.TwinSocket::supported)
                    .orElse(false);
            UnixSocket[] pair = twinOffered && options.twinSocket() ? UnixSocket.pair() : null;
            try {
                Capabilities limits = new Capabilities(options.maxMsgFds(), options.maxDataXferSize(),
                        options.maxDmaMaps(), Capabilities.DEFAULT_PGSIZES,
                        migration == null ? Optional.empty() : Optional.of(new Capabilities.Migration(4096, 1 << 20)),
                        pair == null ? Optional.empty() : Optional.of(new Capabilities.TwinSocket(true, 0)), true);
                agreed = Capabilities.agree(proposal.capabilities(), limits);
                maxReceive = Header.SIZE + Math.max(RegionAccess.SIZE + agreed.maxDataXferSize(), CONTROL_MESSAGE_ROOM);
                ByteBuffer reply = new VersionPayload(VersionPayload.MAJOR,
                        Math.min(proposal.minor(), VersionPayload.MINOR), agreed).encode();
                channel.send(Header.reply(h, reply.remaining()), reply,
                        pair == null ? NO_FDS : new int[] {pair[1].fd().value()});
                if (pair != null) {
                    twin = new Channel(pair[0], channel.peer() + " (twin socket)");
                    pair[0] = null;
                }
            } finally {
                if (pair != null) {
                    pair[1].close(); // the client has its own copy now
                    if (pair[0] != null) {
                        pair[0].close();
                    }
                }
            }
            LOG.log(Level.DEBUG, () -> channel.peer() + " negotiated " + agreed.toJson());
            return true;
        }
    }

    private void loop() throws IOException {
        while (broken == null) {
            Message next = backlog.pollFirst();
            if (next != null) {
                backlogBytes -= next.header().size();
            } else {
                // Block without a poll first (one syscall less per request); shutdown() wakes us with EOF.
                next = channel.receive(-1, options.messageTimeoutMs(), maxReceive, options.maxMsgFds());
                if (next == null) {
                    continue;
                }
            }
            try (Message m = next) {
                if (m.header().isReply()) {
                    dispatchReply(m);
                } else {
                    handle(m);
                }
            }
        }
    }

    /** Hands a reply to the thread waiting for it; the caller closes {@code m}'s descriptors. */
    private void dispatchReply(Message m) throws ProtocolException {
        Header h = m.header();
        Command c = h.commandOrNull();
        if (c != Command.DMA_READ && c != Command.DMA_WRITE) {
            throw new ProtocolException(channel.peer() + " sent " + h + ", but the server sends no such command");
        }
        CompletableFuture<Message> waiter = pending.remove(key(c, h.id()));
        if (waiter == null) {
            LOG.log(Level.DEBUG, () -> "dropping " + h + " from " + channel.peer() + ": nobody waits for it (timed out?)");
            return;
        }
        waiter.complete(m);
    }

    private void handle(Message m) throws IOException {
        Header h = m.header();
        Reply reply;
        try {
            Command c = h.commandOrNull();
            if (c == null) {
                throw new Refused(Errno.ENOSYS, "unknown command " + h.command());
            }
            if (m.fdCount() > 0 && c != Command.DMA_MAP && c != Command.DEVICE_SET_IRQS) {
                throw new Refused(Errno.EINVAL, c + " takes no file descriptors, got " + m.fdCount());
            }
            reply = switch (c) {
                case VERSION -> throw new Refused(Errno.EINVAL, "VERSION was already negotiated");
                case DMA_MAP -> dmaMap(m);
                case DMA_UNMAP -> dmaUnmap(m.body());
                case DEVICE_GET_INFO -> deviceInfo(m.body());
                case DEVICE_GET_REGION_INFO -> regionInfo(m.body());
                case DEVICE_GET_REGION_IO_FDS -> regionIoFds(m.body());
                case DEVICE_GET_IRQ_INFO -> irqInfo(m.body());
                case DEVICE_SET_IRQS -> setIrqs(m);
                case REGION_READ -> regionRead(m.body());
                case REGION_WRITE -> regionWrite(m.body());
                case REGION_WRITE_MULTI -> regionWriteMulti(m.body());
                case DMA_READ, DMA_WRITE -> throw new Refused(Errno.EINVAL, c + " goes from the server to the client");
                case DEVICE_RESET -> reset();
                case DEVICE_FEATURE -> deviceFeature(m.body());
                case MIG_DATA_READ -> migDataRead(m.body());
                case MIG_DATA_WRITE -> migDataWrite(m.body());
            };
        } catch (Refused e) {
            LOG.log(Level.DEBUG, () -> "refused " + h + " from " + channel.peer() + " with " + Errno.name(e.errno())
                    + ": " + e.getMessage());
            m.close(); // release refused descriptors before the client learns of the refusal
            if (!h.noReply()) {
                sendError(h, e.errno());
            }
            return;
        } catch (ProtocolException e) {
            // A payload that does not decode: the framing is intact, so refuse just this request.
            LOG.log(Level.DEBUG, () -> "refused malformed " + h + " from " + channel.peer() + ": " + e.getMessage());
            m.close();
            if (!h.noReply()) {
                sendError(h, Errno.EINVAL);
            }
            return;
        }
        if (!h.noReply()) {
            int size = reply.body == null ? 0 : reply.body.remaining();
            channel.send(Header.reply(h, size), reply.body, reply.fds);
        }
    }

    private void sendError(Header request, int errno) throws IOException {
        channel.send(Header.errorReply(request, errno), null, NO_FDS);
    }

    /**
     * A little-endian buffer for a message body. Large ones are direct: vfio.posix copies heap
     * buffers above 64 KiB through a temporary native buffer that is not kept reachable during the
     * system call.
     */
    private static ByteBuffer le(int size) {
        return (size > 60 * 1024 ? ByteBuffer.allocateDirect(size) : ByteBuffer.allocate(size))
                .order(ByteOrder.LITTLE_ENDIAN);
    }

    /** Checks the whole payload (from offset 0, whatever was consumed) holds {@code size} bytes. */
    private static void need(ByteBuffer body, int size, String what) throws Refused {
        if (body.limit() < size) {
            throw new Refused(Errno.EINVAL, what + " payload is " + body.limit() + " bytes, at least " + size + " expected");
        }
    }

    private static void argsz(ByteBuffer body, int min, String what) throws Refused {
        int argsz = body.getInt(body.position());
        if (Integer.compareUnsigned(argsz, min) < 0) {
            throw new Refused(Errno.EINVAL, what + " argsz " + Integer.toUnsignedString(argsz) + " is below " + min);
        }
    }

    private Reply dmaMap(Message m) throws Refused, ProtocolException {
        ByteBuffer body = m.body();
        DmaMap map = DmaMap.decode(body);
        argsz(body, DmaMap.SIZE, "DMA_MAP");
        int rw = DmaMap.FLAG_READ | DmaMap.FLAG_WRITE;
        if ((map.flags() & ~rw) != 0 || (map.flags() & rw) == 0) {
            throw new Refused(Errno.EINVAL, "DMA_MAP flags 0x" + Integer.toHexString(map.flags())
                    + " must be READ (1) and/or WRITE (2)");
        }
        if (m.fdCount() > 1) {
            throw new Refused(Errno.EINVAL, "DMA_MAP takes at most one file descriptor, got " + m.fdCount());
        }
        Fd fd = m.fdCount() == 1 ? m.takeFds().get(0) : null;
        device.dma().map(map, fd, agreed.maxDmaMaps());
        return Reply.EMPTY;
    }

    private Reply dmaUnmap(ByteBuffer body) throws Refused, ProtocolException {
        DmaUnmap u = DmaUnmap.decode(body);
        argsz(body, DmaUnmap.SIZE, "DMA_UNMAP");
        if ((u.flags() & ~DmaUnmap.FLAG_ALL) != 0) {
            throw new Refused(Errno.EINVAL, "DMA_UNMAP flags 0x" + Integer.toHexString(u.flags())
                    + " not supported (only 0x2, unmap all; no dirty bitmaps)");
        }
        if ((u.flags() & DmaUnmap.FLAG_ALL) != 0) {
            if (u.address() != 0 || u.size() != 0) {
                throw new Refused(Errno.EINVAL, "DMA_UNMAP of all mappings needs address and size 0");
            }
            device.dma().unmapAll();
        } else {
            device.dma().unmap(u.address(), u.size());
        }
        return Reply.of(u.encode());
    }

    private Reply deviceInfo(ByteBuffer body) throws Refused {
        need(body, VfioStructs.DEVICE_INFO_SIZE, "DEVICE_GET_INFO");
        argsz(body, VfioStructs.DEVICE_INFO_SIZE, "DEVICE_GET_INFO");
        ByteBuffer out = le(VfioStructs.DEVICE_INFO_SIZE);
        VfioStructs.encodeDeviceInfo(device.deviceInfo(), out);
        return Reply.of(out.flip());
    }

    private Reply regionInfo(ByteBuffer body) throws Refused {
        need(body, VfioStructs.REGION_INFO_SIZE, "DEVICE_GET_REGION_INFO");
        argsz(body, VfioStructs.REGION_INFO_SIZE, "DEVICE_GET_REGION_INFO");
        int argsz = body.getInt(0);
        int index = body.getInt(8);
        if (Integer.compareUnsigned(index, Pci.NUM_REGIONS) >= 0) {
            throw new Refused(Errno.EINVAL, "region index " + Integer.toUnsignedString(index) + " does not exist (0-"
                    + (Pci.NUM_REGIONS - 1) + ")");
        }
        RegionInfo info = device.regionInfo(index);
        int full = VfioStructs.regionInfoSize(info);
        ByteBuffer out = le(full);
        VfioStructs.encodeRegionInfo(info, out, argsz);
        Fd fd = device.regionFd(index);
        // The fd comes with the complete answer only, as the client maps areas from the capability chain.
        int[] fds = info.has(RegionInfo.FLAG_MMAP) && fd != null && Integer.compareUnsigned(argsz, full) >= 0
                ? new int[] {fd.value()} : NO_FDS;
        return new Reply(out.flip(), fds);
    }

    private Reply regionIoFds(ByteBuffer body) throws Refused {
        need(body, 16, "DEVICE_GET_REGION_IO_FDS");
        argsz(body, 16, "DEVICE_GET_REGION_IO_FDS");
        int flags = body.getInt(4);
        int index = body.getInt(8);
        if (flags != 0 || Integer.compareUnsigned(index, Pci.NUM_REGIONS) >= 0) {
            throw new Refused(Errno.EINVAL, "DEVICE_GET_REGION_IO_FDS for region " + Integer.toUnsignedString(index)
                    + " with flags 0x" + Integer.toHexString(flags) + " is invalid");
        }
        ByteBuffer out = le(16);
        out.putInt(16).putInt(0).putInt(index).putInt(0); // no ioeventfds: every access comes as a message
        return Reply.of(out.flip());
    }

    private Reply irqInfo(ByteBuffer body) throws Refused {
        need(body, VfioStructs.IRQ_INFO_SIZE, "DEVICE_GET_IRQ_INFO");
        argsz(body, VfioStructs.IRQ_INFO_SIZE, "DEVICE_GET_IRQ_INFO");
        int index = body.getInt(8);
        if (Integer.compareUnsigned(index, Pci.NUM_IRQS) >= 0) {
            throw new Refused(Errno.EINVAL, "IRQ index " + Integer.toUnsignedString(index) + " does not exist (0-"
                    + (Pci.NUM_IRQS - 1) + ")");
        }
        ByteBuffer out = le(VfioStructs.IRQ_INFO_SIZE);
        VfioStructs.encodeIrqInfo(device.interrupts().info(index), out);
        return Reply.of(out.flip());
    }

    private Reply setIrqs(Message m) throws Refused, ProtocolException {
        ByteBuffer body = m.body();
        SetIrqs s = SetIrqs.decode(body);
        IrqState irqs = device.interrupts();
        if (Integer.compareUnsigned(s.argsz(), SetIrqs.SIZE) < 0) {
            throw new Refused(Errno.EINVAL, "DEVICE_SET_IRQS argsz " + Integer.toUnsignedString(s.argsz()) + " below 20");
        }
        if (s.index() >= Pci.NUM_IRQS || irqs.count(s.index()) == 0) {
            throw new Refused(Errno.EINVAL, "the device has no IRQ index " + s.index());
        }
        int fds = m.fdCount();
        if (s.dataType() != SetIrqs.DATA_EVENTFD && fds > 0) {
            throw new Refused(Errno.EINVAL, "DEVICE_SET_IRQS without DATA_EVENTFD carries " + fds + " descriptors");
        }
        if (s.count() == 0) {
            if (s.dataType() == SetIrqs.DATA_NONE && s.actionType() == SetIrqs.ACTION_TRIGGER) {
                irqs.disable(s.index());
            } else if (fds > 0) {
                throw new Refused(Errno.EINVAL, "DEVICE_SET_IRQS for 0 vectors carries " + fds + " descriptors");
            }
            return Reply.EMPTY;
        }
        if ((long) s.start() + s.count() > irqs.count(s.index())) {
            throw new Refused(Errno.EINVAL, "vectors " + s.start() + "+" + s.count() + " exceed the " + irqs.count(s.index())
                    + " of " + Pci.irqName(s.index()));
        }
        boolean[] selected = new boolean[s.count()];
        switch (s.dataType()) {
            case SetIrqs.DATA_NONE -> java.util.Arrays.fill(selected, true);
            case SetIrqs.DATA_BOOL -> {
                need(body, SetIrqs.SIZE + s.count(), "DEVICE_SET_IRQS with DATA_BOOL");
                for (int i = 0; i < s.count(); i++) {
                    selected[i] = body.get(SetIrqs.SIZE + i) != 0;
                }
            }
            default -> { // DATA_EVENTFD
                if (s.actionType() != SetIrqs.ACTION_TRIGGER) {
                    throw new Refused(Errno.EINVAL, "eventfds for MASK/UNMASK events are not supported");
                }
                if (fds == 0) {
                    irqs.deassign(s.index(), s.start(), s.count());
                    return Reply.EMPTY;
                }
                if (fds != s.count()) {
                    throw new Refused(Errno.EINVAL, "DEVICE_SET_IRQS for " + s.count() + " vectors carries " + fds
                            + " eventfds; send one per vector (or none to disable them)");
                }
                List<Fd> received = m.takeFds();
                try {
                    for (Fd fd : received) {
                        FdChecks.requireNonBlockingEventFd(fd);
                    }
                    irqs.assign(s.index(), s.start(), received);
                    received = List.of();
                } finally {
                    received.forEach(Fd::close);
                }
                return Reply.EMPTY;
            }
        }
        switch (s.actionType()) {
            case SetIrqs.ACTION_MASK -> irqs.mask(s.index(), s.start(), selected);
            case SetIrqs.ACTION_UNMASK -> irqs.unmask(s.index(), s.start(), selected);
            default -> irqs.clientTrigger(s.index(), s.start(), selected);
        }
        return Reply.EMPTY;
    }

    private Reply regionRead(ByteBuffer body) throws Refused, ProtocolException {
        RegionAccess a = RegionAccess.decode(body, agreed.maxDataXferSize(), "REGION_READ");
        byte[] data = new byte[a.count()];
        device.regionRead(a.region(), a.offset(), data, a.count());
        ByteBuffer out = le(RegionAccess.SIZE + a.count());
        a.encode(out);
        out.put(data);
        return Reply.of(out.flip());
    }

    private Reply regionWrite(ByteBuffer body) throws Refused, ProtocolException {
        RegionAccess a = RegionAccess.decode(body, agreed.maxDataXferSize(), "REGION_WRITE");
        if (body.remaining() != a.count()) {
            throw new Refused(Errno.EINVAL, "REGION_WRITE announces " + a.count() + " bytes but carries "
                    + body.remaining());
        }
        byte[] data = new byte[a.count()];
        body.get(data);
        device.regionWrite(a.region(), a.offset(), data, a.count());
        ByteBuffer out = le(RegionAccess.SIZE);
        a.encode(out);
        return Reply.of(out.flip());
    }

    private Reply regionWriteMulti(ByteBuffer body) throws Refused, ProtocolException {
        if (!agreed.writeMultiple()) {
            throw new Refused(Errno.EINVAL, "REGION_WRITE_MULTI was not negotiated (write_multiple)");
        }
        need(body, 8, "REGION_WRITE_MULTI");
        long count = body.getLong();
        if (count < 0 || count * 24 != body.remaining()) {
            throw new Refused(Errno.EINVAL, "REGION_WRITE_MULTI announces " + count + " writes but carries "
                    + body.remaining() + " bytes (24 per write)");
        }
        byte[] data = new byte[8];
        for (long i = 0; i < count; i++) {
            RegionAccess a = RegionAccess.decode(body, 8, "REGION_WRITE_MULTI write " + i);
            body.get(data);
            device.regionWrite(a.region(), a.offset(), data, a.count());
        }
        ByteBuffer out = le(8);
        out.putLong(count);
        return Reply.of(out.flip());
    }

    private Reply reset() {
        if (migration != null) {
            migration.reset();
        }
        device.reset();
        return Reply.EMPTY;
    }

    private Reply deviceFeature(ByteBuffer body) throws Refused, ProtocolException {
        ArgszFlags req = ArgszFlags.decode(body, "DEVICE_FEATURE");
        int flags = req.flags();
        int feature = flags & FEATURE_MASK;
        int ops = flags & (FEATURE_GET | FEATURE_SET | FEATURE_PROBE);
        if ((flags & ~(FEATURE_MASK | FEATURE_GET | FEATURE_SET | FEATURE_PROBE)) != 0
                || (ops & FEATURE_PROBE) == 0 && Integer.bitCount(ops) != 1) {
            throw new Refused(Errno.EINVAL, "DEVICE_FEATURE flags 0x" + Integer.toHexString(flags)
                    + " must hold exactly one of GET and SET, or PROBE");
        }
        boolean supported = migration != null
                && (feature == FEATURE_MIGRATION && (ops & FEATURE_SET) == 0 || feature == FEATURE_MIG_DEVICE_STATE);
        if (!supported) {
            throw new Refused(feature == FEATURE_MIGRATION || feature == FEATURE_MIG_DEVICE_STATE
                    ? (migration == null ? ENOTTY : Errno.EINVAL) : ENOTTY,
                    "device feature " + feature + (migration == null ? " (the device is not migratable)" : "")
                            + " is not supported with flags 0x" + Integer.toHexString(flags));
        }
        if ((ops & FEATURE_PROBE) != 0) {
            return Reply.of(body.duplicate().position(0));
        }
        if (feature == FEATURE_MIGRATION) {
            return featureReply(req, 8, b -> b.putLong(MIGRATION_STOP_COPY));
        }
        if ((ops & FEATURE_GET) != 0) {
            return featureReply(req, 8, b -> b.putInt(migration.state()).putInt(-1));
        }
        need(body, ArgszFlags.SIZE + 4, "DEVICE_FEATURE MIG_DEVICE_STATE");
        migration.transition(body.getInt(ArgszFlags.SIZE));
        return Reply.of(body.duplicate().position(0));
    }

    private static Reply featureReply(ArgszFlags req, int dataSize, java.util.function.Consumer<ByteBuffer> data)
            throws Refused {
        int size = ArgszFlags.SIZE + dataSize;
        if (Integer.compareUnsigned(req.argsz(), size) < 0) {
            throw new Refused(Errno.EINVAL, "DEVICE_FEATURE argsz " + Integer.toUnsignedString(req.argsz())
                    + " leaves no room for the " + dataSize + "-byte answer");
        }
        ByteBuffer out = le(size);
        out.putInt(size).putInt(req.flags());
        data.accept(out);
        return Reply.of(out.flip());
    }

    private Reply migDataRead(ByteBuffer body) throws Refused, ProtocolException {
        requireMigration();
        ArgszFlags req = ArgszFlags.decode(body, "MIG_DATA_READ");
        if (Integer.compareUnsigned(req.argsz(), ArgszFlags.SIZE) < 0) {
            throw new Refused(Errno.EINVAL, "MIG_DATA_READ argsz " + Integer.toUnsignedString(req.argsz()) + " below 8");
        }
        long room = Math.min(Integer.toUnsignedLong(req.argsz()) - ArgszFlags.SIZE, Integer.toUnsignedLong(req.flags()));
        byte[] data = migration.read((int) Math.min(room, agreed.maxDataXferSize()));
        ByteBuffer out = le(ArgszFlags.SIZE + data.length);
        out.putInt(ArgszFlags.SIZE + data.length).putInt(data.length).put(data);
        return Reply.of(out.flip());
    }

    private Reply migDataWrite(ByteBuffer body) throws Refused, ProtocolException {
        requireMigration();
        ArgszFlags req = ArgszFlags.decode(body, "MIG_DATA_WRITE");
        int size = req.flags();
        body.position(ArgszFlags.SIZE);
        if (size < 0 || size > agreed.maxDataXferSize() || size != body.remaining()) {
            throw new Refused(Errno.EINVAL, "MIG_DATA_WRITE announces " + Integer.toUnsignedString(size)
                    + " bytes but carries " + body.remaining() + " (limit " + agreed.maxDataXferSize() + ")");
        }
        migration.write(body);
        return Reply.EMPTY;
    }

    private void requireMigration() throws Refused {
        if (migration == null) {
            throw new Refused(Errno.EINVAL, "the device is not migratable");
        }
    }

    // ---- DMA to the client through messages ----

    @Override
    public void read(long address, ByteBuffer dst) throws DmaException {
        long at = address;
        while (dst.hasRemaining()) {
            int n = Math.min(dst.remaining(), agreed.maxDataXferSize());
            ByteBuffer req = le(DmaAccess.SIZE);
            new DmaAccess(at, n).encode(req);
            try (Message reply = call(Command.DMA_READ, req.flip())) {
                ByteBuffer b = reply.body();
                DmaAccess a = DmaAccess.decode(b, n, "DMA_READ reply");
                b.position(DmaAccess.SIZE);
                if (a.address() != at || a.count() != n || b.remaining() != n) {
                    throw new ProtocolException("DMA_READ reply for 0x" + Long.toHexString(a.address()) + "+" + a.count()
                            + " with " + b.remaining() + " data bytes answers a request for 0x" + Long.toHexString(at)
                            + "+" + n);
                }
                dst.put(b);
            } catch (ProtocolException e) {
                throw new DmaException(Errno.EPROTO, e.getMessage());
            }
            at += n;
        }
    }

    @Override
    public void write(long address, ByteBuffer src) throws DmaException {
        long at = address;
        while (src.hasRemaining()) {
            int n = Math.min(src.remaining(), agreed.maxDataXferSize());
            ByteBuffer req = le(DmaAccess.SIZE + n);
            new DmaAccess(at, n).encode(req);
            req.position(DmaAccess.SIZE);
            req.put(src.duplicate().limit(src.position() + n));
            try (Message reply = call(Command.DMA_WRITE, req.flip())) {
                ByteBuffer b = reply.body();
                // The specification's table gives the reply's count 4 bytes: check the address only.
                if (b.remaining() < 8 || b.getLong(0) != at) {
                    throw new DmaException(Errno.EPROTO, "DMA_WRITE reply does not echo the address 0x" + Long.toHexString(at));
                }
            }
            src.position(src.position() + n);
            at += n;
        }
    }

    /** Sends a command to the client and waits for its (successful) reply, owned by the caller. */
    private Message call(Command c, ByteBuffer body) throws DmaException {
        if (broken != null) {
            throw new DmaException(Errno.ENOTCONN, c + " impossible: " + broken);
        }
        if (twin != null) {
            return callTwin(c, body);
        }
        CompletableFuture<Message> waiter = new CompletableFuture<>();
        int id;
        do {
            id = nextId.getAndIncrement() & 0xffff;
        } while (pending.putIfAbsent(key(c, id), waiter) != null);
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(options.dmaTimeoutMs());
        try {
            try {
                channel.send(Header.command(id, c, body.remaining(), false), body, NO_FDS);
            } catch (IOException | IllegalStateException e) {
                throw new DmaException(Errno.ENOTCONN, "cannot send " + c + " to " + channel.peer() + ": " + e.getMessage());
            }
            Message reply = Thread.currentThread() == serverThread ? pump(waiter, c, deadline) : await(waiter, c, deadline);
            if (reply.header().isError()) {
                int errno = reply.header().error() != 0 ? reply.header().error() : Errno.EIO;
                reply.close();
                throw new DmaException(errno, channel.peer() + " refused " + c + " with " + Errno.name(errno));
            }
            return reply;
        } finally {
            pending.remove(key(c, id), waiter);
        }
    }

    /**
     * Twin-socket mode: the server's commands and their replies have a socket of their own, so a
     * plain request-reply exchange under a lock (any thread, the server thread included). A reply
     * that comes after its request timed out is recognised by its id and skipped.
     */
    private Message callTwin(Command c, ByteBuffer body) throws DmaException {
        synchronized (twinLock) {
            int id = nextId.getAndIncrement() & 0xffff;
            long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(options.dmaTimeoutMs());
            try {
                twin.send(Header.command(id, c, body.remaining(), false), body, NO_FDS);
                while (true) {
                    long left = TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime());
                    Message m = left <= 0 ? null
                            : twin.receive((int) left, options.messageTimeoutMs(), maxReceive, 0);
                    if (m == null) {
                        throw new DmaException(Errno.ETIMEDOUT, channel.peer() + " did not answer " + c
                                + " on the twin socket within " + options.dmaTimeoutMs() + " ms");
                    }
                    Header h = m.header();
                    if (!h.isReply()) {
                        m.close();
                        throw new ProtocolException("the client sent " + h + " on the twin socket, which carries"
                                + " only the server's commands and the client's replies");
                    }
                    if (h.id() == id && h.command() == c.code()) {
                        if (h.isError()) {
                            int errno = h.error() != 0 ? h.error() : Errno.EIO;
                            m.close();
                            throw new DmaException(errno, channel.peer() + " refused " + c + " with " + Errno.name(errno));
                        }
                        return m;
                    }
                    LOG.log(Level.DEBUG, () -> "skipping " + h + " on the twin socket: a late reply");
                    m.close();
                }
            } catch (DmaException e) {
                throw e;
            } catch (IOException | IllegalStateException e) {
                // IllegalStateException: the session ended and closed the socket under us
                fail("twin socket: " + e.getMessage());
                throw new DmaException(Errno.ENOTCONN, c + " failed on the twin socket: " + e.getMessage());
            }
        }
    }

    private Message await(CompletableFuture<Message> waiter, Command c, long deadline) throws DmaException {
        try {
            return waiter.get(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
        } catch (TimeoutException e) {
            throw new DmaException(Errno.ETIMEDOUT, channel.peer() + " did not answer " + c + " within "
                    + options.dmaTimeoutMs() + " ms");
        } catch (ExecutionException e) {
            throw new DmaException(Errno.ENOTCONN, c + " failed: " + e.getCause().getMessage());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new DmaException(Errno.EINTR, "interrupted while waiting for the reply to " + c);
        }
    }

    /**
     * On the server thread: keeps receiving until the reply arrives, queueing the client's commands
     * for later (they must run in order, after the one that is doing this DMA).
     */
    private Message pump(CompletableFuture<Message> waiter, Command c, long deadline) throws DmaException {
        long backlogLimit = Math.max(16L << 20, 4L * maxReceive);
        while (!waiter.isDone()) {
            long left = TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime());
            if (left <= 0) {
                throw new DmaException(Errno.ETIMEDOUT, channel.peer() + " did not answer " + c + " within "
                        + options.dmaTimeoutMs() + " ms");
            }
            if (backlog.size() >= MAX_BACKLOG_MESSAGES || backlogBytes >= backlogLimit) {
                throw new DmaException(Errno.EAGAIN, channel.peer() + " queued " + backlog.size() + " commands ("
                        + backlogBytes + " bytes) without answering " + c);
            }
            Message m;
            try {
                m = channel.receive((int) Math.min(left, Integer.MAX_VALUE), options.messageTimeoutMs(), maxReceive,
                        options.maxMsgFds());
            } catch (IOException e) {
                fail(e.getMessage());
                throw new DmaException(Errno.ENOTCONN, "connection lost while waiting for the reply to " + c + ": "
                        + e.getMessage());
            }
            if (m == null) {
                continue;
            }
            if (m.header().isReply()) {
                try (m) {
                    dispatchReply(m);
                } catch (ProtocolException e) {
                    fail(e.getMessage());
                    throw new DmaException(Errno.EPROTO, e.getMessage());
                }
            } else {
                backlog.addLast(m);
                backlogBytes += m.header().size();
            }
        }
        return waiter.join();
    }

    /** Marks the stream unusable: the server thread ends the session, waiters fail now. */
    private void fail(String reason) {
        if (broken == null) {
            broken = reason;
            LOG.log(Level.WARNING, "disconnecting " + channel.peer() + ": " + reason);
        }
        channel.shutdown();
        Channel t = twin;
        if (t != null) {
            t.shutdown();
        }
        pending.values().forEach(w -> w.completeExceptionally(new IOException(reason)));
    }

    private static int key(Command c, int id) {
        return c.code() << 16 | id;
    }

    private void cleanup() {
        if (broken == null) {
            broken = "the client disconnected";
        }
        pending.values().forEach(w -> w.completeExceptionally(new IOException(broken)));
        device.dma().attach(null);
        device.interrupts().closeAll();
        device.dma().unmapAll();
        if (migration != null) {
            migration.reset();
        }
        device.reset();
        Message m;
        while ((m = backlog.pollFirst()) != null) {
            m.close();
        }
        backlogBytes = 0;
        channel.close();
        Channel t = twin;
        if (t != null) {
            t.shutdown();
            synchronized (twinLock) { // a device thread in a twin exchange has been woken and let go
                t.close();
            }
        }
    }
}
