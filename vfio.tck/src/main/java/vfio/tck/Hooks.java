package vfio.tck;

import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import vfio.api.backend.DeviceIoOps;

/**
 * What only the device knows, supplied by the backend author so the kit can check more: ranges that
 * behave like memory, registers with known values, a way to make the device raise an interrupt or
 * write by DMA. Every hook is optional; a check that needs an absent hook is reported {@link
 * Outcome#SKIPPED skipped}, never passed. The kit never writes to a device outside the ranges
 * declared here (except registers the hooks themselves touch), so an unknown device is safe to test.
 *
 * <p>Immutable; the {@code with...} methods return a new instance. Hook functions are called from
 * the kit's worker threads, one check at a time.
 */
public final class Hooks {
    private static final Hooks NONE = new Hooks(List.of(), List.of(), null, null, null);

    private final List<Scratch> scratch;
    private final List<KnownValue> knownValues;
    private final IrqRaiser irqRaiser;
    private final DmaWriter dmaWriter;
    private final MaskedInterrupts maskedInterrupts;

    private Hooks(List<Scratch> scratch, List<KnownValue> knownValues, IrqRaiser irqRaiser, DmaWriter dmaWriter,
            MaskedInterrupts maskedInterrupts) {
        this.scratch = List.copyOf(scratch);
        this.knownValues = List.copyOf(knownValues);
        this.irqRaiser = irqRaiser;
        this.dmaWriter = dmaWriter;
        this.maskedInterrupts = maskedInterrupts;
    }

    /** @return hooks that declare nothing: the kit only reads info and uses software interrupts */
    public static Hooks none() {
        return NONE;
    }

    /**
     * A byte range where writes read back unchanged and have no side effect, so the kit may write
     * patterns there.
     *
     * @param region       the region index
     * @param offset       first byte, from the start of the region
     * @param length       length in bytes
     * @param registerSize 0 for memory-like storage (any width 1/2/4/8 at any offset, bulk transfers,
     *                     narrower accesses see parts of wider ones little-endian); otherwise the range
     *                     is a row of registers of this many bytes (4 or 8), each accessed only at its
     *                     start with a width of at most {@code registerSize} (a narrower write may
     *                     clear the rest of the register)
     */
    public record Scratch(int region, long offset, long length, int registerSize) {
        /**
         * @throws IllegalArgumentException if a value is negative, the length is 0 or the register
         *                                  size is not 0, 4 or 8
         */
        public Scratch {
            if (region < 0 || offset < 0 || length <= 0) {
                throw new IllegalArgumentException("bad scratch range: region " + region + " offset " + offset
                        + " length " + length);
            }
            if (registerSize != 0 && registerSize != 4 && registerSize != 8) {
                throw new IllegalArgumentException("register size must be 0 (memory), 4 or 8, got " + registerSize);
            }
            if (registerSize != 0 && (length % registerSize != 0 || offset % registerSize != 0)) {
                throw new IllegalArgumentException("a row of " + registerSize + "-byte registers must start and end on"
                        + " a register boundary: offset " + offset + " length " + length);
            }
        }

        /** @return whether this range is memory-like (any width, bulk) */
        public boolean memoryLike() {
            return registerSize == 0;
        }

        /** @return the first offset past the range */
        public long end() {
            return offset + length;
        }
    }

    /**
     * A register that always reads the same value (an identification register).
     *
     * @param region the region index
     * @param offset the register's offset in the region
     * @param width  1, 2, 4 or 8 bytes
     * @param value  the value, little-endian as the device defines it (only the low {@code width}
     *               bytes count)
     */
    public record KnownValue(int region, long offset, int width, long value) {
        /** @throws IllegalArgumentException if the width is not 1, 2, 4 or 8 or a value is negative */
        public KnownValue {
            if (width != 1 && width != 2 && width != 4 && width != 8) {
                throw new IllegalArgumentException("width must be 1, 2, 4 or 8, got " + width);
            }
            if (region < 0 || offset < 0) {
                throw new IllegalArgumentException("negative region " + region + " or offset " + offset);
            }
        }
    }

    /** Makes the device itself raise an interrupt, as opposed to the software trigger of {@code setIrqs}. */
    @FunctionalInterface
    public interface IrqRaiser {
        /**
         * Makes the device raise {@code vector} of IRQ index {@code index} once, through its own
         * registers (accessed with {@code ops}); lowers any interrupt it raised before, so each call
         * is a fresh edge. Returns without waiting for delivery.
         *
         * @return false if the device cannot raise this vector (the kit then skips that part)
         * @throws Exception if the device could not be told (the check fails with it)
         */
        boolean raise(DeviceIoOps ops, int index, int vector) throws Exception;

        /**
         * Lowers (acknowledges at the device) an interrupt it raised, as a driver's handler does
         * before it unmasks a level-triggered, automasked vector (INTx); otherwise the unmask sees
         * the line still asserted and the vector fires and masks itself again. The default does
         * nothing (edge-triggered devices).
         *
         * @throws Exception if the device could not be told
         */
        default void lower(DeviceIoOps ops, int index, int vector) throws Exception {
        }
    }

    /** Makes the device write memory by DMA. */
    @FunctionalInterface
    public interface DmaWriter {
        /**
         * Makes the device write {@code data} at {@code targetIova} by DMA and waits (with a timeout)
         * until it has. For a device that can only copy, {@code sourceIova} is mapped for device reads
         * and already holds {@code data}.
         *
         * @throws Exception if the device did not complete the transfer
         */
        void write(DeviceIoOps ops, long targetIova, byte[] data, long sourceIova) throws Exception;
    }

    /** What the device does with an interrupt raised while its vector is masked. */
    public enum MaskedInterrupts {
        /** It stays pending and is delivered when the vector is unmasked (PCI's pending bit, level INTx). */
        DELIVERED_ON_UNMASK,
        /** It is lost. */
        DROPPED
    }

    /** @return these hooks plus a scratch range */
    public Hooks withScratch(Scratch range) {
        List<Scratch> s = new ArrayList<>(scratch);
        s.add(range);
        return new Hooks(s, knownValues, irqRaiser, dmaWriter, maskedInterrupts);
    }

    /** @return these hooks plus a memory-like scratch range (see {@link Scratch}) */
    public Hooks withMemory(int region, long offset, long length) {
        return withScratch(new Scratch(region, offset, length, 0));
    }

    /** @return these hooks plus a register with a known value */
    public Hooks withKnownValue(int region, long offset, int width, long value) {
        List<KnownValue> k = new ArrayList<>(knownValues);
        k.add(new KnownValue(region, offset, width, value));
        return new Hooks(scratch, k, irqRaiser, dmaWriter, maskedInterrupts);
    }

    /** @return these hooks with the given interrupt raiser */
    public Hooks withIrqRaiser(IrqRaiser raiser) {
        return new Hooks(scratch, knownValues, raiser, dmaWriter, maskedInterrupts);
    }

    /** @return these hooks with the given DMA writer */
    public Hooks withDmaWriter(DmaWriter writer) {
        return new Hooks(scratch, knownValues, irqRaiser, writer, maskedInterrupts);
    }

    /** @return these hooks declaring what the device does with masked interrupts (checked, not just noted) */
    public Hooks withMaskedInterrupts(MaskedInterrupts semantics) {
        return new Hooks(scratch, knownValues, irqRaiser, dmaWriter, semantics);
    }

    /** @return the declared scratch ranges */
    public List<Scratch> scratch() {
        return scratch;
    }

    /** @return the declared registers with known values */
    public List<KnownValue> knownValues() {
        return knownValues;
    }

    /** @return the interrupt raiser, if declared */
    public Optional<IrqRaiser> irqRaiser() {
        return Optional.ofNullable(irqRaiser);
    }

    /** @return the DMA writer, if declared */
    public Optional<DmaWriter> dmaWriter() {
        return Optional.ofNullable(dmaWriter);
    }

    /** @return the declared masked-interrupt semantics, if any */
    public Optional<MaskedInterrupts> maskedInterrupts() {
        return Optional.ofNullable(maskedInterrupts);
    }

    @Override
    public String toString() {
        return "Hooks[scratch=" + scratch + ", knownValues=" + knownValues + ", irqRaiser=" + (irqRaiser != null)
                + ", dmaWriter=" + (dmaWriter != null) + ", maskedInterrupts=" + maskedInterrupts + "]";
    }
}
