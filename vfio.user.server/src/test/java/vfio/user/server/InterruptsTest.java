package vfio.user.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;
import vfio.api.device.Pci;
import vfio.posix.Errno;
import vfio.posix.EventFd;
import vfio.posix.Fd;
import vfio.posix.MemFd;
import vfio.user.protocol.Command;
import vfio.user.protocol.SetIrqs;
import vfio.user.server.testing.TestClient;

class InterruptsTest extends ServerFixture {
    static final int EVENTFD_TRIGGER = SetIrqs.DATA_EVENTFD | SetIrqs.ACTION_TRIGGER;
    static final int NONE_TRIGGER = SetIrqs.DATA_NONE | SetIrqs.ACTION_TRIGGER;
    static final int NONE_MASK = SetIrqs.DATA_NONE | SetIrqs.ACTION_MASK;
    static final int NONE_UNMASK = SetIrqs.DATA_NONE | SetIrqs.ACTION_UNMASK;

    private void enableBusMaster(TestClient c) throws Exception {
        c.write(7, 4, 2, 0x6);
    }

    @Test
    void msiVectorsSignalTheirEventfdsAndPendWhileMasked() throws Exception {
        try (TestClient c = client(); EventFd v0 = EventFd.create(); EventFd v1 = EventFd.create()) {
            enableBusMaster(c);
            assertThat(c.setIrqs(EVENTFD_TRIGGER, Pci.IRQ_MSI, 0, 2, v0.fd().value(), v1.fd().value())).isZero();
            Interrupts irqs = test.device.interrupts();
            assertThat(irqs.activeIndex()).isEqualTo(Pci.IRQ_MSI);
            assertThat(irqs.trigger(Pci.IRQ_MSI, 1)).isTrue();
            assertThat(v1.drain()).isEqualTo(1);
            assertThat(v0.drain()).isZero();

            assertThat(c.setIrqs(NONE_MASK, Pci.IRQ_MSI, 1, 1)).isZero();
            assertThat(irqs.trigger(Pci.IRQ_MSI, 1)).isFalse();
            assertThat(irqs.isPending(Pci.IRQ_MSI, 1)).isTrue();
            assertThat(v1.drain()).isZero();
            assertThat(c.setIrqs(NONE_UNMASK, Pci.IRQ_MSI, 1, 1)).isZero();
            assertThat(v1.drain()).as("delivered on unmask").isEqualTo(1);
            assertThat(irqs.isPending(Pci.IRQ_MSI, 1)).isFalse();

            // a vector without an eventfd (2) is dropped; the client can trigger one itself
            assertThat(irqs.trigger(Pci.IRQ_MSI, 2)).isFalse();
            assertThat(c.setIrqs(NONE_TRIGGER, Pci.IRQ_MSI, 0, 1)).isZero();
            assertThat(v0.drain()).isEqualTo(1);
        }
    }

    @Test
    void msiIsDroppedWithoutBusMastering() throws Exception {
        try (TestClient c = client(); EventFd v0 = EventFd.create()) {
            assertThat(c.setIrqs(EVENTFD_TRIGGER, Pci.IRQ_MSI, 0, 1, v0.fd().value())).isZero();
            assertThat(test.device.interrupts().trigger(Pci.IRQ_MSI, 0)).isFalse();
            assertThat(v0.drain()).isZero();
            enableBusMaster(c);
            assertThat(test.device.interrupts().trigger(Pci.IRQ_MSI, 0)).isTrue();
        }
    }

    @Test
    void msixEventfdsMayArriveInSeveralMessagesAndBeDisabledByRange() throws Exception {
        try (TestClient c = client(); EventFd a = EventFd.create(); EventFd b = EventFd.create();
                EventFd d = EventFd.create(); EventFd e = EventFd.create()) {
            enableBusMaster(c);
            assertThat(c.setIrqs(EVENTFD_TRIGGER, Pci.IRQ_MSIX, 0, 2, a.fd().value(), b.fd().value())).isZero();
            assertThat(c.setIrqs(EVENTFD_TRIGGER, Pci.IRQ_MSIX, 2, 2, d.fd().value(), e.fd().value())).isZero();
            Interrupts irqs = test.device.interrupts();
            for (int v = 0; v < 4; v++) {
                assertThat(irqs.trigger(Pci.IRQ_MSIX, v)).isTrue();
            }
            assertThat(new long[] {a.drain(), b.drain(), d.drain(), e.drain()}).containsOnly(1);
            // DATA_EVENTFD without descriptors disables the range
            assertThat(c.setIrqs(EVENTFD_TRIGGER, Pci.IRQ_MSIX, 1, 2)).isZero();
            assertThat(irqs.trigger(Pci.IRQ_MSIX, 1)).isFalse();
            assertThat(irqs.trigger(Pci.IRQ_MSIX, 3)).isTrue();
            assertThat(e.drain()).isEqualTo(1);
            // count 0 with DATA_NONE | TRIGGER disables the index
            assertThat(c.setIrqs(NONE_TRIGGER, Pci.IRQ_MSIX, 0, 0)).isZero();
            assertThat(irqs.activeIndex()).isEqualTo(-1);
        }
    }

    @Test
    void boolDataSelectsVectors() throws Exception {
        try (TestClient c = client(); EventFd a = EventFd.create(); EventFd b = EventFd.create()) {
            enableBusMaster(c);
            assertThat(c.setIrqs(EVENTFD_TRIGGER, Pci.IRQ_MSIX, 0, 2, a.fd().value(), b.fd().value())).isZero();
            var body = TestClient.setIrqsBody(SetIrqs.DATA_BOOL | SetIrqs.ACTION_MASK, Pci.IRQ_MSIX, 0, 2, new byte[] {0, 1});
            assertThat(c.errnoOf(Command.DEVICE_SET_IRQS, body)).isZero();
            assertThat(test.device.interrupts().isMasked(Pci.IRQ_MSIX, 0)).isFalse();
            assertThat(test.device.interrupts().isMasked(Pci.IRQ_MSIX, 1)).isTrue();
            var shortBody = TestClient.setIrqsBody(SetIrqs.DATA_BOOL | SetIrqs.ACTION_MASK, Pci.IRQ_MSIX, 0, 2, new byte[1]);
            assertThat(c.errnoOf(Command.DEVICE_SET_IRQS, shortBody)).isEqualTo(Errno.EINVAL);
        }
    }

    @Test
    void intxIsAutomaskedUntilUnmaskedAndRespectsTheDisableBit() throws Exception {
        try (TestClient c = client(); EventFd intx = EventFd.create()) {
            assertThat(c.setIrqs(EVENTFD_TRIGGER, Pci.IRQ_INTX, 0, 1, intx.fd().value())).isZero();
            Interrupts irqs = test.device.interrupts();
            irqs.setIntx(true);
            assertThat(intx.drain()).isEqualTo(1);
            assertThat(irqs.isMasked(Pci.IRQ_INTX, 0)).as("automasked").isTrue();
            assertThat(c.read(7, 6, 2) & 0x8).as("status: interrupt").isEqualTo(8);
            assertThat(c.setIrqs(NONE_UNMASK, Pci.IRQ_INTX, 0, 1)).isZero();
            assertThat(intx.drain()).as("still asserted: fires again").isEqualTo(1);
            irqs.setIntx(false);
            assertThat(c.setIrqs(NONE_UNMASK, Pci.IRQ_INTX, 0, 1)).isZero();
            assertThat(intx.drain()).isZero();
            assertThat(c.read(7, 6, 2) & 0x8).isZero();

            c.write(7, 4, 2, 0x400); // INTx disable
            irqs.setIntx(true);
            assertThat(intx.drain()).isZero();
            assertThat(irqs.isPending(Pci.IRQ_INTX, 0)).isTrue();
            c.write(7, 4, 2, 0);
            assertThat(intx.drain()).as("delivered once INTx is enabled again").isEqualTo(1);
            assertThatThrownBy(() -> irqs.trigger(Pci.IRQ_INTX, 0)).isInstanceOf(IllegalArgumentException.class);
        }
    }

    @Test
    void onlyOneIndexMayHaveEventfds() throws Exception {
        try (TestClient c = client(); EventFd a = EventFd.create(); EventFd b = EventFd.create()) {
            assertThat(c.setIrqs(EVENTFD_TRIGGER, Pci.IRQ_INTX, 0, 1, a.fd().value())).isZero();
            int before = TestDevice.openFds();
            assertThat(c.setIrqs(EVENTFD_TRIGGER, Pci.IRQ_MSI, 0, 1, b.fd().value())).isEqualTo(Errno.EINVAL);
            assertThat(TestDevice.openFds()).as("the refused eventfd is closed").isEqualTo(before);
            assertThat(c.setIrqs(NONE_TRIGGER, Pci.IRQ_INTX, 0, 0)).isZero();
            assertThat(c.setIrqs(EVENTFD_TRIGGER, Pci.IRQ_MSI, 0, 1, b.fd().value())).isZero();
        }
    }

    @Test
    void invalidSetIrqsRequestsAreRefusedAndTheirDescriptorsClosed() throws Exception {
        try (TestClient c = client(); EventFd a = EventFd.create(); EventFd b = EventFd.create();
                Fd memfd = MemFd.create("not-an-eventfd", 4096); EventFd blocking = EventFd.create()) {
            blocking.fd().setNonBlocking(false);
            int before = TestDevice.openFds();
            assertThat(c.setIrqs(EVENTFD_TRIGGER, Pci.IRQ_MSI, 0, 2, a.fd().value())).as("fd count != count")
                    .isEqualTo(Errno.EINVAL);
            assertThat(c.setIrqs(EVENTFD_TRIGGER, Pci.IRQ_MSI, 3, 2, a.fd().value(), b.fd().value()))
                    .as("beyond the vectors").isEqualTo(Errno.EINVAL);
            assertThat(c.setIrqs(EVENTFD_TRIGGER, Pci.IRQ_ERR, 0, 1, a.fd().value())).as("no ERR IRQ")
                    .isEqualTo(Errno.EINVAL);
            assertThat(c.setIrqs(EVENTFD_TRIGGER, 7, 0, 1, a.fd().value())).isEqualTo(Errno.EINVAL);
            assertThat(c.setIrqs(EVENTFD_TRIGGER, Pci.IRQ_MSI, 0, 1, memfd.value())).as("not an eventfd")
                    .isEqualTo(Errno.EINVAL);
            assertThat(c.setIrqs(EVENTFD_TRIGGER, Pci.IRQ_MSI, 0, 1, blocking.fd().value())).as("blocking eventfd")
                    .isEqualTo(Errno.EINVAL);
            assertThat(c.setIrqs(NONE_MASK, Pci.IRQ_MSI, 0, 1, a.fd().value())).as("fd without DATA_EVENTFD")
                    .isEqualTo(Errno.EINVAL);
            assertThat(c.setIrqs(SetIrqs.DATA_EVENTFD | SetIrqs.ACTION_MASK, Pci.IRQ_MSI, 0, 1, a.fd().value()))
                    .as("mask eventfds").isEqualTo(Errno.EINVAL);
            assertThat(c.setIrqs(SetIrqs.DATA_NONE | SetIrqs.DATA_BOOL | SetIrqs.ACTION_MASK, Pci.IRQ_MSI, 0, 1))
                    .as("two data flags").isEqualTo(Errno.EINVAL);
            assertThat(c.setIrqs(SetIrqs.DATA_NONE, Pci.IRQ_MSI, 0, 1)).as("no action").isEqualTo(Errno.EINVAL);
            assertThat(TestDevice.openFds()).isEqualTo(before);
            assertThat(test.device.interrupts().activeIndex()).isEqualTo(-1);
        }
    }

    @Test
    void resetClearsMasksButKeepsEventfds() throws Exception {
        try (TestClient c = client(); EventFd v0 = EventFd.create()) {
            enableBusMaster(c);
            assertThat(c.setIrqs(EVENTFD_TRIGGER, Pci.IRQ_MSI, 0, 1, v0.fd().value())).isZero();
            assertThat(c.setIrqs(NONE_MASK, Pci.IRQ_MSI, 0, 1)).isZero();
            assertThat(c.errnoOf(Command.DEVICE_RESET, null)).isZero();
            assertThat(test.device.interrupts().isMasked(Pci.IRQ_MSI, 0)).isFalse();
            enableBusMaster(c);
            assertThat(test.device.interrupts().trigger(Pci.IRQ_MSI, 0)).isTrue();
            assertThat(v0.drain()).isEqualTo(1);
        }
    }
}
