package vfio.fuzz;

import com.code_intelligence.jazzer.junit.FuzzTest;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import vfio.user.protocol.Capabilities;
import vfio.user.protocol.VersionPayload;

/**
 * The vfio-user VERSION payload and its capabilities JSON, which both the client and the server
 * parse from their peer. Only {@code ProtocolException} may come out; accepted capabilities must
 * survive their own JSON.
 */
class ProtocolFuzzTest {

    @FuzzTest(maxDuration = "20s")
    void capabilities(byte[] data) {
        String json = new String(data, StandardCharsets.UTF_8);
        Findings.refusalAllowed(() -> {
            Capabilities c = Capabilities.parse(json);
            Capabilities back = Capabilities.parse(c.toJson());
            if (!back.equals(c)) {
                throw new AssertionError("capabilities changed through their JSON: " + c + " became " + back);
            }
        });
    }

    @FuzzTest(maxDuration = "20s")
    void version(byte[] data) {
        Findings.refusalAllowed(() -> {
            VersionPayload v = VersionPayload.decode(ByteBuffer.wrap(data));
            VersionPayload back = VersionPayload.decode(v.encode());
            if (!back.equals(v)) {
                throw new AssertionError("VERSION changed through its encoding: " + v + " became " + back);
            }
        });
    }
}
