package vfio.fuzz;

import java.util.Arrays;

/**
 * Reads a fuzz input as a script of small fields, so that seeds can be written by hand (each
 * fuzz test's comment gives its layout): a byte, a little-endian u16/u32, or a length-prefixed
 * (u16) run of bytes. Reading past the end yields zeros and empty runs. Not thread-safe.
 */
final class Script {
    private final byte[] data;
    private int at;

    Script(byte[] data) {
        this.data = data;
    }

    boolean more() {
        return at < data.length;
    }

    int u8() {
        return at < data.length ? data[at++] & 0xff : 0;
    }

    int u16() {
        return u8() | u8() << 8;
    }

    int u32() {
        return u16() | u16() << 16;
    }

    /** @return the next run: a u16 length, then up to that many bytes (fewer at the end of the input) */
    byte[] run() {
        int n = u16();
        int end = Math.min(data.length, at + n);
        byte[] b = Arrays.copyOfRange(data, Math.min(at, data.length), end);
        at = end;
        return b;
    }
}
