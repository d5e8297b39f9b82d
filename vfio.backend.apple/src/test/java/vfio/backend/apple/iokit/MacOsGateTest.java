package vfio.backend.apple.iokit;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class MacOsGateTest {
    @Test
    void onlyMacOsNamesOpenTheGate() {
        assertThat(MacOsGate.isMacOs("Mac OS X")).isTrue();
        assertThat(MacOsGate.isMacOs("macOS")).isTrue();
        assertThat(MacOsGate.isMacOs("Linux")).isFalse();
        assertThat(MacOsGate.isMacOs("Windows 11")).isFalse();
        assertThat(MacOsGate.isMacOs("FreeBSD")).isFalse();
    }
}
