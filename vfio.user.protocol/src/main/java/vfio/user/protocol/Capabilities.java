package vfio.user.protocol;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParseException;
import com.google.gson.JsonParser;
import com.google.gson.JsonPrimitive;
import java.math.BigDecimal;
import java.util.Optional;

/**
 * The capabilities exchanged in {@link Command#VERSION}, as the JSON object {@code
 * {"capabilities":{...}}}. Absent keys take the protocol defaults; unknown keys are ignored; a known
 * key with the wrong type or an out-of-range value is a {@link ProtocolException}.
 *
 * @param maxMsgFds       most file descriptors one message may carry (default 1)
 * @param maxDataXferSize most data bytes one read/write/DMA message may carry (default 1 MiB)
 * @param maxDmaMaps      most DMA mappings the server keeps (default 65535)
 * @param pgsizes         bitmap of supported page sizes (default 4096)
 * @param migration       present if the server supports migration
 * @param twinSocket      present if twin-socket mode is offered or chosen
 * @param writeMultiple   whether {@link Command#REGION_WRITE_MULTI} may be used
 */
public record Capabilities(int maxMsgFds, int maxDataXferSize, int maxDmaMaps, long pgsizes,
        Optional<Migration> migration, Optional<TwinSocket> twinSocket, boolean writeMultiple) {
    public static final int DEFAULT_MAX_MSG_FDS = 1;
    public static final int DEFAULT_MAX_DATA_XFER_SIZE = 1 << 20;
    public static final int DEFAULT_MAX_DMA_MAPS = 65535;
    public static final long DEFAULT_PGSIZES = 4096;
    /** The protocol's defaults: what a peer that sends no JSON supports. */
    public static final Capabilities DEFAULTS = new Capabilities(DEFAULT_MAX_MSG_FDS, DEFAULT_MAX_DATA_XFER_SIZE,
            DEFAULT_MAX_DMA_MAPS, DEFAULT_PGSIZES, Optional.empty(), Optional.empty(), false);

    /** @param pgsize migration page size; @param maxBitmapSize largest dirty bitmap in bytes */
    public record Migration(long pgsize, long maxBitmapSize) {
    }

    /** @param supported whether offered; @param fdIndex index of the twin socket fd in the VERSION reply */
    public record TwinSocket(boolean supported, int fdIndex) {
    }

    /**
     * @throws IllegalArgumentException if a value is outside what this implementation accepts
     */
    public Capabilities {
        if (maxMsgFds < 1 || maxMsgFds > 253) {
            throw new IllegalArgumentException("max_msg_fds " + maxMsgFds + " outside [1, 253]");
        }
        if (maxDataXferSize < 8 || maxDataXferSize > 64 << 20) {
            throw new IllegalArgumentException("max_data_xfer_size " + maxDataXferSize + " outside [8, 64 MiB]");
        }
        if (maxDmaMaps < 1) {
            throw new IllegalArgumentException("max_dma_maps " + maxDmaMaps + " must be positive");
        }
        if ((pgsizes & 4096) == 0) {
            throw new IllegalArgumentException("pgsizes 0x" + Long.toHexString(pgsizes) + " lacks 4 KiB pages");
        }
    }

    /**
     * Parses the JSON a peer sent.
     *
     * @param json the text, or null/empty for none (then the defaults)
     * @throws ProtocolException naming the key that is wrong
     */
    public static Capabilities parse(String json) throws ProtocolException {
        if (json == null || json.isBlank()) {
            return DEFAULTS;
        }
        JsonObject caps;
        try {
            JsonElement root = JsonParser.parseString(json);
            if (!root.isJsonObject()) {
                throw new ProtocolException("version JSON is not an object: " + abbreviate(json));
            }
            JsonElement c = root.getAsJsonObject().get("capabilities");
            if (c == null) {
                return DEFAULTS;
            }
            if (!c.isJsonObject()) {
                throw new ProtocolException("\"capabilities\" is not an object: " + abbreviate(json));
            }
            caps = c.getAsJsonObject();
        } catch (JsonParseException | IllegalStateException e) {
            throw new ProtocolException("version JSON does not parse (" + e.getMessage() + "): " + abbreviate(json));
        }
        Optional<Migration> migration = Optional.empty();
        if (caps.has("migration")) {
            JsonObject m = object(caps, "migration");
            migration = Optional.of(new Migration(integer(m, "pgsize", 4096, 4096, 1L << 30),
                    integer(m, "max_bitmap_size", 256L << 20, 1, 1L << 40)));
        }
        Optional<TwinSocket> twin = Optional.empty();
        if (caps.has("twin_socket")) {
            JsonObject t = object(caps, "twin_socket");
            twin = Optional.of(new TwinSocket(bool(t, "supported", false), (int) integer(t, "fd_index", 0, 0, 252)));
        }
        try {
            return new Capabilities((int) integer(caps, "max_msg_fds", DEFAULT_MAX_MSG_FDS, 1, 253),
                    (int) integer(caps, "max_data_xfer_size", DEFAULT_MAX_DATA_XFER_SIZE, 8, 64 << 20),
                    (int) integer(caps, "max_dma_maps", DEFAULT_MAX_DMA_MAPS, 1, Integer.MAX_VALUE),
                    integer(caps, "pgsizes", DEFAULT_PGSIZES, 1, Long.MAX_VALUE), migration, twin,
                    bool(caps, "write_multiple", false));
        } catch (IllegalArgumentException e) {
            throw new ProtocolException("capabilities: " + e.getMessage());
        }
    }

    /** @return the JSON text for {@link Command#VERSION} (without the NUL terminator) */
    public String toJson() {
        JsonObject c = new JsonObject();
        c.addProperty("max_msg_fds", maxMsgFds);
        c.addProperty("max_data_xfer_size", maxDataXferSize);
        c.addProperty("max_dma_maps", maxDmaMaps);
        c.addProperty("pgsizes", pgsizes);
        migration.ifPresent(m -> {
            JsonObject o = new JsonObject();
            o.addProperty("pgsize", m.pgsize());
            o.addProperty("max_bitmap_size", m.maxBitmapSize());
            c.add("migration", o);
        });
        twinSocket.ifPresent(t -> {
            JsonObject o = new JsonObject();
            o.addProperty("supported", t.supported());
            o.addProperty("fd_index", t.fdIndex());
            c.add("twin_socket", o);
        });
        if (writeMultiple) {
            c.addProperty("write_multiple", true);
        }
        JsonObject root = new JsonObject();
        root.add("capabilities", c);
        return root.toString();
    }

    /**
     * What a server answers to a client's proposal: each limit is the smaller of the two, and optional
     * features are kept only where both sides have them.
     *
     * @param proposed what the client sent
     * @param limits   what the server supports
     */
    public static Capabilities agree(Capabilities proposed, Capabilities limits) {
        return new Capabilities(Math.min(proposed.maxMsgFds, limits.maxMsgFds),
                Math.min(proposed.maxDataXferSize, limits.maxDataXferSize),
                Math.min(proposed.maxDmaMaps, limits.maxDmaMaps),
                limits.pgsizes & proposed.pgsizes | DEFAULT_PGSIZES,
                limits.migration, // the server announces migration; the client may ignore it
                proposed.twinSocket.isPresent() && limits.twinSocket.map(TwinSocket::supported).orElse(false)
                        ? limits.twinSocket : Optional.empty(),
                proposed.writeMultiple && limits.writeMultiple);
    }

    private static JsonObject object(JsonObject o, String key) throws ProtocolException {
        JsonElement e = o.get(key);
        if (!e.isJsonObject()) {
            throw new ProtocolException("capability \"" + key + "\" must be an object, got " + e);
        }
        return e.getAsJsonObject();
    }

    private static long integer(JsonObject o, String key, long dflt, long min, long max) throws ProtocolException {
        JsonElement e = o.get(key);
        if (e == null) {
            return dflt;
        }
        if (!(e instanceof JsonPrimitive p) || !p.isNumber()) {
            throw new ProtocolException("capability \"" + key + "\" must be a number, got " + e);
        }
        BigDecimal v;
        try {
            v = p.getAsBigDecimal();
        } catch (NumberFormatException tooLarge) {
            // Gson refuses exponents and digit strings beyond its limits (e.g. 1E268435456).
            throw new ProtocolException("capability \"" + key + "\" is not a usable number: "
                    + abbreviate(p.getAsString()) + " (" + abbreviate(tooLarge.getMessage()) + ")");
        }
        if (v.scale() > 0 && v.stripTrailingZeros().scale() > 0) {
            throw new ProtocolException("capability \"" + key + "\" must be an integer, got " + v);
        }
        if (v.compareTo(BigDecimal.valueOf(min)) < 0 || v.compareTo(BigDecimal.valueOf(max)) > 0) {
            throw new ProtocolException("capability \"" + key + "\" = " + v + " outside [" + min + ", " + max + "]");
        }
        return v.longValueExact();
    }

    private static boolean bool(JsonObject o, String key, boolean dflt) throws ProtocolException {
        JsonElement e = o.get(key);
        if (e == null) {
            return dflt;
        }
        if (!(e instanceof JsonPrimitive p) || !p.isBoolean()) {
            throw new ProtocolException("capability \"" + key + "\" must be true or false, got " + e);
        }
        return p.getAsBoolean();
    }

    private static String abbreviate(String s) {
        return s.length() <= 200 ? s : s.substring(0, 200) + "...";
    }
}
