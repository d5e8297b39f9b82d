package vfio.user.server;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import vfio.user.server.internal.Definition;
import vfio.user.server.internal.DeviceModel;

/**
 * A PCI device served by a {@link VfioUserServer}: its definition (identity, config space
 * capabilities, BARs, interrupts) and its live state (config space contents, interrupt eventfds,
 * DMA mappings), through which device code raises interrupts and reaches client memory.
 *
 * <p>Config space is emulated by the server (256 bytes, a type 0 header): identity registers are
 * read-only, the COMMAND register's I/O, memory, bus-master, parity, SERR and INTx-disable bits are
 * writable, BARs implement sizing (writing all ones reads back the size mask and the type bits), and
 * the MSI and MSI-X capabilities have their standard writable fields.
 *
 * <p>Ownership: the device owns the memfds behind its shared-memory BARs; {@link #close()} releases
 * them. A device can be served by one server at a time, and can be served again after that server
 * is closed. Threading: all methods are thread-safe.
 */
public final class PciDevice implements AutoCloseable {
    final DeviceModel model;

    private PciDevice(Definition definition) throws IOException {
        this.model = new DeviceModel(definition);
    }

    /** @return a builder for a new device */
    public static Builder builder() {
        return new Builder();
    }

    /** @return the interrupt controls for device code */
    public Interrupts interrupts() {
        return model.interrupts();
    }

    /** @return DMA access to the connected client's memory */
    public Dma dma() {
        return model.dma();
    }

    /**
     * The device's own view of a shared-memory BAR: stores are visible to a client that mapped it,
     * and the other way round.
     *
     * @return a new little-endian view of the whole BAR; valid until {@link #close()}
     * @throws IllegalArgumentException if that BAR is not shared memory
     */
    public ByteBuffer sharedMemory(int bar) {
        return model.sharedMemory(bar);
    }

    /** @return the PCI COMMAND register as the client last wrote it (0 after reset) */
    public int command() {
        return model.config().command();
    }

    /** @return whether the client enabled bus mastering (COMMAND bit 2): needed for DMA and MSI */
    public boolean busMasterEnabled() {
        return model.config().busMaster();
    }

    /**
     * Releases the shared memory. Idempotent.
     *
     * @throws IllegalStateException while a {@link VfioUserServer} serves the device: close it first
     */
    @Override
    public void close() {
        model.close();
    }

    @Override
    public String toString() {
        return model.toString();
    }

    /**
     * Builds a {@link PciDevice}. Not thread-safe; every method returns this builder.
     */
    public static final class Builder {
        private int vendorId = -1;
        private int deviceId = -1;
        private int subsystemVendorId;
        private int subsystemId;
        private int classCode;
        private int revision;
        private final Bar[] bars = new Bar[6];
        private boolean intx;
        private int msiVectors;
        private Definition.Msix msix;
        private final List<Definition.Capability> capabilities = new ArrayList<>();
        private Runnable reset = () -> {
        };
        private MigrationHandler migration;

        private Builder() {
        }

        /** @param id the PCI vendor id (16 bits); required */
        public Builder vendorId(int id) {
            this.vendorId = u16(id, "vendor id");
            return this;
        }

        /** @param id the PCI device id (16 bits); required */
        public Builder deviceId(int id) {
            this.deviceId = u16(id, "device id");
            return this;
        }

        /** Sets the subsystem vendor and subsystem ids (16 bits each; default 0). */
        public Builder subsystem(int vendorId, int id) {
            this.subsystemVendorId = u16(vendorId, "subsystem vendor id");
            this.subsystemId = u16(id, "subsystem id");
            return this;
        }

        /** @param code base class, subclass and programming interface, 24 bits (e.g. 0xff0000) */
        public Builder classCode(int code) {
            if ((code & ~0xffffff) != 0) {
                throw new IllegalArgumentException("class code 0x" + Integer.toHexString(code) + " exceeds 24 bits");
            }
            this.classCode = code;
            return this;
        }

        /** @param revision the revision id (8 bits) */
        public Builder revision(int revision) {
            if ((revision & ~0xff) != 0) {
                throw new IllegalArgumentException("revision " + revision + " exceeds 8 bits");
            }
            this.revision = revision;
            return this;
        }

        /**
         * Defines BAR {@code index}. A 64-bit BAR also takes {@code index + 1}.
         *
         * @throws IllegalArgumentException if the index, or the second index of a 64-bit BAR, is
         *                                  outside 0-5 or already taken
         */
        public Builder bar(int index, Bar bar) {
            Objects.requireNonNull(bar, "bar");
            int last = bar.type() == Bar.Type.MEMORY64 ? index + 1 : index;
            if (index < 0 || last > 5) {
                throw new IllegalArgumentException("BAR index " + index + (last != index ? " (64-bit, needs " + last + ")" : "")
                        + " is outside 0-5");
            }
            for (int i = 0; i < 6; i++) {
                Bar b = bars[i];
                int bLast = b != null && b.type() == Bar.Type.MEMORY64 ? i + 1 : i;
                if (b != null && i <= last && index <= bLast) {
                    throw new IllegalArgumentException("BAR " + index + " overlaps BAR " + i + " defined before");
                }
            }
            bars[index] = bar;
            return this;
        }

        /** Gives the device an INTx line (interrupt pin INTA). */
        public Builder intx() {
            this.intx = true;
            return this;
        }

        /**
         * Adds an MSI capability (64-bit addresses, no per-vector masking in config space; the client
         * masks through DEVICE_SET_IRQS).
         *
         * @param vectors 1, 2, 4, 8, 16 or 32
         */
        public Builder msi(int vectors) {
            if (vectors < 1 || vectors > 32 || Integer.bitCount(vectors) != 1) {
                throw new IllegalArgumentException("MSI vector count " + vectors + " must be a power of two in [1, 32]");
            }
            if (msiVectors != 0) {
                throw new IllegalStateException("the MSI capability is already defined");
            }
            this.msiVectors = vectors;
            capabilities.add(new Definition.Capability(Definition.CAP_MSI, null));
            return this;
        }

        /**
         * Adds an MSI-X capability. The table (16 bytes per vector) and the pending bit array (8
         * bytes per 64 vectors) live in BARs this builder defines; the client emulates the table
         * and masks vectors through DEVICE_SET_IRQS.
         *
         * @param vectors     1 to 2048
         * @param tableBar    BAR index holding the table
         * @param tableOffset 8-byte aligned offset of the table in that BAR
         * @param pbaBar      BAR index holding the pending bit array
         * @param pbaOffset   8-byte aligned offset of the pending bit array
         */
        public Builder msix(int vectors, int tableBar, long tableOffset, int pbaBar, long pbaOffset) {
            if (msix != null) {
                throw new IllegalStateException("the MSI-X capability is already defined");
            }
            this.msix = new Definition.Msix(vectors, tableBar, tableOffset, pbaBar, pbaOffset);
            capabilities.add(new Definition.Capability(Definition.CAP_MSIX, null));
            return this;
        }

        /**
         * Adds a vendor-specific capability (id 0x09); its bytes are read-only.
         *
         * @param data the bytes after the 3-byte header (id, next, length), at most 61
         */
        public Builder vendorCapability(byte[] data) {
            if (data.length > 61) {
                throw new IllegalArgumentException("vendor capability data is " + data.length + " bytes, at most 61 fit");
            }
            capabilities.add(new Definition.Capability(Definition.CAP_VENDOR, data.clone()));
            return this;
        }

        /**
         * @param onReset called on DEVICE_RESET and when a client disconnects, on the connection
         *                thread, after config space and interrupt state are reset; it must bring
         *                the device's own registers back to their power-on values
         */
        public Builder onReset(Runnable onReset) {
            this.reset = Objects.requireNonNull(onReset, "onReset");
            return this;
        }

        /** Offers migration; without a handler the device is not migratable. */
        public Builder migration(MigrationHandler handler) {
            this.migration = Objects.requireNonNull(handler, "handler");
            return this;
        }

        /**
         * Creates the device and the shared memory of its shared-memory BARs.
         *
         * @throws IllegalStateException if the vendor or device id is missing, or the MSI-X table or
         *                               pending bit array do not fit in a defined memory BAR
         * @throws IOException           if shared memory cannot be created
         */
        public PciDevice build() throws IOException {
            if (vendorId < 0 || deviceId < 0) {
                throw new IllegalStateException("a PCI device needs a vendor id and a device id");
            }
            if (msix != null) {
                msix.check(bars);
            }
            return new PciDevice(new Definition(vendorId, deviceId, subsystemVendorId, subsystemId, classCode, revision,
                    Arrays.stream(bars).map(Optional::ofNullable).toList(), intx, msiVectors, Optional.ofNullable(msix),
                    List.copyOf(capabilities), reset, Optional.ofNullable(migration)));
        }

        private static int u16(int v, String what) {
            if ((v & ~0xffff) != 0) {
                throw new IllegalArgumentException(what + " 0x" + Integer.toHexString(v) + " exceeds 16 bits");
            }
            return v;
        }
    }
}
