package vfio.api.backend;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;
import vfio.api.device.BackendException;
import vfio.api.device.DeviceInfo;
import vfio.api.device.IrqInfo;
import vfio.api.device.RegionCapability;
import vfio.api.device.RegionInfo;

/**
 * Encoding and strict decoding of the VFIO info structures that the Linux kernel and the vfio-user
 * protocol share ({@code struct vfio_device_info}, {@code vfio_region_info} with its capability
 * chain, {@code vfio_irq_info}), for backends that receive them from an untrusted peer.
 *
 * <p>Decoding never trusts the bytes: lengths, counts, capability offsets and chain loops are
 * checked, and any violation is a {@link BackendException} with errno {@code EPROTO} naming the
 * operation and what is wrong, never an exception from {@link ByteBuffer}. Buffers are read from
 * their position, little-endian. Stateless; thread-safe.
 */
public final class VfioStructs {
    /** Size of {@code struct vfio_device_info} as far as this API reads it. */
    public static final int DEVICE_INFO_SIZE = 16;
    /** Size of {@code struct vfio_region_info} without capabilities. */
    public static final int REGION_INFO_SIZE = 32;
    /** Size of {@code struct vfio_irq_info}. */
    public static final int IRQ_INFO_SIZE = 16;
    /** Capability chains longer than this are refused (a loop or a hostile peer). */
    public static final int MAX_CAPABILITIES = 64;
    /** Sparse-mmap capabilities with more areas than this are refused. */
    public static final int MAX_SPARSE_AREAS = 1024;

    private static final int EPROTO = 71;
    private static final int CAP_HEADER = 8;

    private VfioStructs() {
    }

    /**
     * Decodes {@code struct vfio_device_info}.
     *
     * @param b         at least {@link #DEVICE_INFO_SIZE} bytes from its position
     * @param operation the operation that produced the bytes, for messages
     */
    public static DeviceInfo decodeDeviceInfo(ByteBuffer b, String operation) {
        ByteBuffer le = slice(b, DEVICE_INFO_SIZE, operation, "device info");
        int flags = le.getInt(4);
        int regions = le.getInt(8);
        int irqs = le.getInt(12);
        if (regions < 0 || regions > 1024 || irqs < 0 || irqs > 1024) {
            throw malformed(operation, "absurd device info: " + regions + " regions, " + irqs + " IRQ indexes (limit 1024)");
        }
        return new DeviceInfo(flags, regions, irqs);
    }

    /** Encodes {@code struct vfio_device_info} (argsz 16) at the buffer's position, advancing it. */
    public static void encodeDeviceInfo(DeviceInfo info, ByteBuffer b) {
        ByteBuffer le = b.duplicate().order(ByteOrder.LITTLE_ENDIAN);
        le.putInt(DEVICE_INFO_SIZE).putInt(info.flags()).putInt(info.numRegions()).putInt(info.numIrqs());
        b.position(le.position());
    }

    /**
     * Decodes {@code struct vfio_irq_info}.
     *
     * @param expectedIndex the index that was asked for; a reply about another index is malformed
     */
    public static IrqInfo decodeIrqInfo(ByteBuffer b, int expectedIndex, String operation) {
        ByteBuffer le = slice(b, IRQ_INFO_SIZE, operation, "IRQ info");
        int flags = le.getInt(4);
        int index = le.getInt(8);
        int count = le.getInt(12);
        if (index != expectedIndex) {
            throw malformed(operation, "IRQ info for index " + index + " when " + expectedIndex + " was asked for");
        }
        if (count < 0 || count > 2048) {
            throw malformed(operation, "absurd IRQ count " + Integer.toUnsignedString(count) + " for index " + index
                    + " (PCI allows at most 2048 MSI-X vectors)");
        }
        return new IrqInfo(index, flags, count);
    }

    /** Encodes {@code struct vfio_irq_info} (argsz 16) at the buffer's position, advancing it. */
    public static void encodeIrqInfo(IrqInfo info, ByteBuffer b) {
        ByteBuffer le = b.duplicate().order(ByteOrder.LITTLE_ENDIAN);
        le.putInt(IRQ_INFO_SIZE).putInt(info.flags()).putInt(info.index()).putInt(info.count());
        b.position(le.position());
    }

    /**
     * @param b the bytes of a {@code vfio_region_info} reply, from the buffer's position
     * @return the {@code argsz} the reply says it needs (to retry with a larger buffer)
     */
    public static int regionInfoArgsz(ByteBuffer b, String operation) {
        ByteBuffer le = slice(b, REGION_INFO_SIZE, operation, "region info");
        int argsz = le.getInt(0);
        if (argsz < REGION_INFO_SIZE || argsz > 1 << 20) {
            throw malformed(operation, "region info argsz " + Integer.toUnsignedString(argsz)
                    + " outside [" + REGION_INFO_SIZE + ", 1 MiB]");
        }
        return argsz;
    }

    /**
     * Decodes {@code struct vfio_region_info} and, if {@code VFIO_REGION_INFO_FLAG_CAPS} is set and
     * the whole chain is present, its capability chain.
     *
     * @param b             the reply bytes from the buffer's position; {@code remaining()} is what
     *                      was received
     * @param expectedIndex the region index asked for
     * @param operation     the operation, for messages
     * @return the info; capabilities empty if there are none (or {@code argsz} exceeds what was
     *         received: then call again with a buffer of {@link #regionInfoArgsz} bytes)
     */
    public static RegionInfo decodeRegionInfo(ByteBuffer b, int expectedIndex, String operation) {
        int received = b.remaining();
        ByteBuffer le = slice(b, REGION_INFO_SIZE, operation, "region info");
        int argsz = regionInfoArgsz(b, operation);
        int flags = le.getInt(4);
        int index = le.getInt(8);
        int capOffset = le.getInt(12);
        long size = le.getLong(16);
        long offset = le.getLong(24);
        if (index != expectedIndex) {
            throw malformed(operation, "region info for index " + index + " when " + expectedIndex + " was asked for");
        }
        if (size < 0) {
            throw malformed(operation, "region " + index + " has negative size " + Long.toUnsignedString(size));
        }
        List<RegionCapability> caps = List.of();
        if ((flags & RegionInfo.FLAG_CAPS) != 0 && capOffset != 0 && argsz <= received) {
            ByteBuffer all = b.duplicate().order(ByteOrder.LITTLE_ENDIAN);
            all.limit(all.position() + argsz);
            caps = decodeChain(all.slice().order(ByteOrder.LITTLE_ENDIAN), capOffset, index, size, operation);
        }
        return new RegionInfo(index, flags, size, offset, caps);
    }

    private static List<RegionCapability> decodeChain(ByteBuffer info, int first, int region, long regionSize,
            String operation) {
        List<RegionCapability> caps = new ArrayList<>();
        int at = first;
        int previous = 0;
        while (at != 0) {
            if (caps.size() == MAX_CAPABILITIES) {
                throw malformed(operation, "region " + region + " capability chain longer than " + MAX_CAPABILITIES);
            }
            // Offsets must move forward: that rules out loops and overlaps with the fixed part.
            if (at < REGION_INFO_SIZE || at <= previous || at > info.limit() - CAP_HEADER) {
                throw malformed(operation, "region " + region + " capability at offset " + Integer.toUnsignedString(at)
                        + " is outside the " + info.limit() + "-byte reply or does not follow the previous one");
            }
            int id = Short.toUnsignedInt(info.getShort(at));
            int version = Short.toUnsignedInt(info.getShort(at + 2));
            int next = info.getInt(at + 4);
            int bodyStart = at + CAP_HEADER;
            int bodyEnd = next != 0 && Integer.compareUnsigned(next, info.limit()) <= 0 && next > at ? next : info.limit();
            if (bodyEnd < bodyStart) {
                // Found by fuzzing: a next pointer inside this header left a negative body size.
                throw malformed(operation, "region " + region + " capability at offset " + at
                        + " names the next one at offset " + next + ", inside its own " + CAP_HEADER + "-byte header");
            }
            caps.add(decodeCapability(info, id, version, bodyStart, bodyEnd, region, regionSize, operation));
            previous = at;
            at = next;
        }
        return caps;
    }

    private static RegionCapability decodeCapability(ByteBuffer info, int id, int version, int start, int end,
            int region, long regionSize, String operation) {
        switch (id) {
            case RegionCapability.ID_SPARSE_MMAP: {
                if (end - start < 8) {
                    throw malformed(operation, "region " + region + " sparse-mmap capability truncated");
                }
                int n = info.getInt(start);
                if (n < 0 || n > MAX_SPARSE_AREAS || (long) n * 16 > end - start - 8) {
                    throw malformed(operation, "region " + region + " sparse-mmap capability claims "
                            + Integer.toUnsignedString(n) + " areas but has room for " + (end - start - 8) / 16);
                }
                List<RegionCapability.SparseArea> areas = new ArrayList<>(n);
                for (int i = 0; i < n; i++) {
                    long off = info.getLong(start + 8 + 16 * i);
                    long sz = info.getLong(start + 16 + 16 * i);
                    if (off < 0 || sz < 0) {
                        throw malformed(operation, "region " + region + " sparse area " + i + " has a negative offset or size");
                    }
                    areas.add(new RegionCapability.SparseArea(off, sz));
                }
                return new RegionCapability.SparseMmap(areas);
            }
            case RegionCapability.ID_TYPE:
                if (end - start < 8) {
                    throw malformed(operation, "region " + region + " type capability truncated");
                }
                return new RegionCapability.Type(info.getInt(start), info.getInt(start + 4));
            case RegionCapability.ID_MSIX_MAPPABLE:
                return new RegionCapability.MsixMappable();
            default: {
                byte[] body = new byte[end - start];
                info.get(start, body);
                return new RegionCapability.Unknown(id, version, body);
            }
        }
    }

    /** @return the bytes {@link #encodeRegionInfo} writes for {@code info} */
    public static int regionInfoSize(RegionInfo info) {
        int size = REGION_INFO_SIZE;
        for (RegionCapability c : info.capabilities()) {
            size += CAP_HEADER + capabilityBodySize(c);
        }
        return size;
    }

    private static int capabilityBodySize(RegionCapability c) {
        if (c instanceof RegionCapability.SparseMmap s) {
            return 8 + 16 * s.areas().size();
        } else if (c instanceof RegionCapability.Type) {
            return 8;
        } else if (c instanceof RegionCapability.Unknown u) {
            return (u.body().length + 7) & ~7;
        }
        return 0;
    }

    /**
     * Encodes {@code struct vfio_region_info} with its capability chain at the buffer's position.
     * If {@code limit} is smaller than the full size, only the fixed part is written, with {@code
     * argsz} announcing the full size (the VFIO argsz protocol).
     *
     * @param limit how many bytes the requester accepts (its argsz)
     * @return the number of bytes written (the position advances by it)
     */
    public static int encodeRegionInfo(RegionInfo info, ByteBuffer b, int limit) {
        int full = regionInfoSize(info);
        boolean withCaps = !info.capabilities().isEmpty() && limit >= full;
        ByteBuffer le = b.duplicate().order(ByteOrder.LITTLE_ENDIAN);
        int base = le.position();
        int flags = info.flags() | (info.capabilities().isEmpty() ? 0 : RegionInfo.FLAG_CAPS);
        le.putInt(full).putInt(flags).putInt(info.index()).putInt(withCaps ? REGION_INFO_SIZE : 0)
                .putLong(info.size()).putLong(info.offset());
        if (withCaps) {
            List<RegionCapability> caps = info.capabilities();
            int at = REGION_INFO_SIZE;
            for (int i = 0; i < caps.size(); i++) {
                RegionCapability c = caps.get(i);
                int next = at + CAP_HEADER + capabilityBodySize(c);
                le.position(base + at);
                le.putShort((short) c.id()).putShort((short) (c instanceof RegionCapability.Unknown u ? u.version() : 1))
                        .putInt(i == caps.size() - 1 ? 0 : next);
                if (c instanceof RegionCapability.SparseMmap s) {
                    le.putInt(s.areas().size()).putInt(0);
                    for (RegionCapability.SparseArea a : s.areas()) {
                        le.putLong(a.offset()).putLong(a.size());
                    }
                } else if (c instanceof RegionCapability.Type t) {
                    le.putInt(t.type()).putInt(t.subtype());
                } else if (c instanceof RegionCapability.Unknown u) {
                    le.put(u.body());
                    while (le.position() < base + next) {
                        le.put((byte) 0);
                    }
                }
                at = next;
            }
            le.position(base + full);
        }
        int written = le.position() - base;
        b.position(b.position() + written);
        return written;
    }

    private static ByteBuffer slice(ByteBuffer b, int need, String operation, String what) {
        if (b.remaining() < need) {
            throw malformed(operation, what + " is " + b.remaining() + " bytes, at least " + need + " expected");
        }
        return b.slice().order(ByteOrder.LITTLE_ENDIAN);
    }

    private static BackendException malformed(String operation, String what) {
        return new BackendException(operation, EPROTO, "EPROTO",
                "malformed reply from the peer: " + what + "; the connection cannot be trusted");
    }
}
