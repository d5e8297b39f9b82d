package vfio.user.protocol;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.ByteBuffer;
import org.junit.jupiter.api.Test;

class CapabilitiesTest {

    @Test
    void parsesWhatAnIndependentServerSendsIncludingSpaces() throws Exception {
        Capabilities c = Capabilities.parse(
                "{ \"capabilities\": { \"max_msg_fds\": 8, \"max_data_xfer_size\": 1048576, \"migration\": { \"pgsize\": 4096 } } }");
        assertThat(c.maxMsgFds()).isEqualTo(8);
        assertThat(c.maxDataXferSize()).isEqualTo(1 << 20);
        assertThat(c.migration()).isPresent();
        assertThat(c.maxDmaMaps()).isEqualTo(Capabilities.DEFAULT_MAX_DMA_MAPS);
    }

    @Test
    void absentJsonMeansDefaultsAndUnknownKeysAreIgnored() throws Exception {
        assertThat(Capabilities.parse(null)).isEqualTo(Capabilities.DEFAULTS);
        assertThat(Capabilities.parse("{\"capabilities\":{\"future\":[1,2]}}")).isEqualTo(Capabilities.DEFAULTS);
    }

    @Test
    void wrongTypesAndRangesAreProtocolErrors() {
        assertThatThrownBy(() -> Capabilities.parse("{\"capabilities\":{\"max_msg_fds\":\"8\"}}"))
                .isInstanceOf(ProtocolException.class).hasMessageContaining("max_msg_fds");
        assertThatThrownBy(() -> Capabilities.parse("{\"capabilities\":{\"max_msg_fds\":1.5}}"))
                .hasMessageContaining("integer");
        assertThatThrownBy(() -> Capabilities.parse("{\"capabilities\":{\"max_data_xfer_size\":1e12}}"))
                .hasMessageContaining("outside");
        // Found by the CI fuzzer: an exponent Gson will not expand must be a protocol error, not a NumberFormatException.
        assertThatThrownBy(() -> Capabilities.parse(
                "{\"capabilities\":{\"migration\":{\"max_bitmap_size\":268435456E268435456}}}"))
                .isInstanceOf(ProtocolException.class).hasMessageContaining("max_bitmap_size")
                .hasMessageContaining("not a usable number");
        assertThatThrownBy(() -> Capabilities.parse("[1]")).hasMessageContaining("not an object");
        assertThatThrownBy(() -> Capabilities.parse("{\"capabilities\":")).hasMessageContaining("does not parse");
    }

    @Test
    void versionPayloadRoundTripsAndAgreementTakesTheSmallerLimits() throws Exception {
        Capabilities client = new Capabilities(16, 1 << 20, 1000, 4096, java.util.Optional.empty(),
                java.util.Optional.empty(), true);
        ByteBuffer b = new VersionPayload(0, 1, client).encode();
        VersionPayload back = VersionPayload.decode(b);
        assertThat(back.capabilities()).isEqualTo(client);
        Capabilities agreed = Capabilities.agree(client, new Capabilities(8, 4096, 65535, 4096,
                java.util.Optional.empty(), java.util.Optional.empty(), false));
        assertThat(agreed.maxMsgFds()).isEqualTo(8);
        assertThat(agreed.maxDataXferSize()).isEqualTo(4096);
        assertThat(agreed.writeMultiple()).isFalse();
    }
}
