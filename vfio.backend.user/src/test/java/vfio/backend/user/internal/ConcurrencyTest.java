package vfio.backend.user.internal;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import vfio.backend.user.internal.device.VfioUserDevice;
import vfio.user.protocol.Command;
import vfio.user.protocol.Message;

/** Many caller threads on one connection, with the server sending DMA in between. */
@Timeout(60)
class ConcurrencyTest {
    @TempDir
    Path dir;
    private FakeDevice device;
    private FakeServer server;
    private VfioUserDevice ops;

    @AfterEach
    void stop() {
        if (ops != null) {
            ops.close();
        }
        if (server != null) {
            server.close();
        }
        if (device != null) {
            device.release();
        }
        assertThat(server.errors()).isEmpty();
    }

    @Test
    void eightThreadsOfAThousandReadsEachAllGetTheirOwnValues() throws Exception {
        device = new FakeDevice();
        for (int i = 0; i < device.bar1.length / 4; i++) {
            ByteBuffer.wrap(device.bar1).order(ByteOrder.LITTLE_ENDIAN).putInt(i * 4, 0x10000 * i + 7);
        }
        server = FakeServer.start(dir.resolve("pipe.sock"), device);
        ops = Fixture.open(server);
        List<Throwable> failures = new CopyOnWriteArrayList<>();
        AtomicInteger correct = new AtomicInteger();
        List<Thread> threads = new ArrayList<>();
        for (int t = 0; t < 8; t++) {
            int thread = t;
            Thread th = new Thread(() -> {
                try {
                    ByteBuffer b = ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN);
                    for (int i = 0; i < 1000; i++) {
                        int slot = (thread * 131 + i * 7) % (device.bar1.length / 4);
                        b.clear();
                        ops.regionRead(1, slot * 4L, b);
                        if (b.getInt(0) == 0x10000 * slot + 7) {
                            correct.incrementAndGet();
                        } else {
                            failures.add(new AssertionError("slot " + slot + " read " + Integer.toHexString(b.getInt(0))));
                        }
                    }
                } catch (Throwable e) {
                    failures.add(e);
                }
            }, "reader-" + t);
            threads.add(th);
            th.start();
        }
        for (Thread th : threads) {
            th.join(30_000);
        }
        assertThat(failures).isEmpty();
        assertThat(correct.get()).isEqualTo(8000);
        assertThat(ops.failureReason()).isNull();
    }

    @Test
    void requestsOfSeveralThreadsAreInFlightTogether() throws Exception {
        device = new FakeDevice();
        // The server answers nothing until four reads have arrived: a client that serialised its
        // requests would time out here.
        List<Message> held = new ArrayList<>();
        server = FakeServer.start(dir.resolve("hold.sock"), (peer, m) -> {
            if (m.header().commandOrNull() != Command.REGION_READ) {
                device.respond(peer, m);
                return;
            }
            held.add(retain(m));
            if (held.size() == 4) {
                for (Message h : held) {
                    device.respond(peer, h);
                    h.close();
                }
                held.clear();
            }
        });
        ops = Fixture.open(server);
        List<Throwable> failures = new CopyOnWriteArrayList<>();
        List<Thread> threads = new ArrayList<>();
        for (int t = 0; t < 4; t++) {
            Thread th = new Thread(() -> {
                try {
                    ops.regionRead(1, 0, ByteBuffer.allocate(4));
                } catch (Throwable e) {
                    failures.add(e);
                }
            });
            threads.add(th);
            th.start();
        }
        for (Thread th : threads) {
            th.join(10_000);
        }
        assertThat(failures).isEmpty();
    }

    @Test
    void serverDmaInterleavedWithManyCallersIsServedAndEveryReplyMatched() throws Exception {
        device = new FakeDevice();
        AtomicInteger dmaDone = new AtomicInteger();
        FakeDevice inner = device;
        // Reads at multiples of 40 make the server write the read's offset into client memory by DMA before it
        // answers, so DMA commands arrive while many callers wait.
        server = FakeServer.start(dir.resolve("mix.sock"), (peer, m) -> {
            if (m.header().commandOrNull() == Command.REGION_READ && m.body().getLong(0) % 40 == 0) {
                long offset = m.body().getLong(0);
                ByteBuffer cmd = FakeServer.le(16 + 8).putLong(0x400000 + offset * 2).putLong(8).putLong(offset + 1);
                try (Message reply = peer.command(Command.DMA_WRITE, cmd.flip())) {
                    if (!reply.header().isError()) {
                        dmaDone.incrementAndGet();
                    }
                }
            }
            inner.respond(peer, m);
        });
        ops = Fixture.open(server);
        try (TestDmaMemory mem = TestDmaMemory.create(0x4000, false)) {
            ops.dmaMap(mem, 0x400000, true, true);
            List<Throwable> failures = new CopyOnWriteArrayList<>();
            List<Thread> threads = new ArrayList<>();
            for (int t = 0; t < 6; t++) {
                int thread = t;
                Thread th = new Thread(() -> {
                    try {
                        for (int i = 0; i < 500; i++) {
                            ops.regionRead(1, ((thread * 500 + i) % 1024) * 4L, ByteBuffer.allocate(4));
                        }
                    } catch (Throwable e) {
                        failures.add(e);
                    }
                });
                threads.add(th);
                th.start();
            }
            for (Thread th : threads) {
                th.join(30_000);
            }
            assertThat(failures).isEmpty();
            int expected = 0;
            for (int k = 0; k < 6 * 500; k++) {
                expected += (k % 1024) * 4 % 40 == 0 ? 1 : 0;
            }
            assertThat(dmaDone.get()).isEqualTo(expected);
            ByteBuffer view = mem.memory().order(ByteOrder.LITTLE_ENDIAN);
            for (long offset = 0; offset < 4096; offset += 40) {
                assertThat(view.getLong((int) (offset * 2))).isEqualTo(offset + 1);
            }
            ops.dmaUnmap(0x400000, 0x4000);
        }
    }

    @Test
    void anInterruptedCallerStillGetsItsReplyAndKeepsItsInterrupt() throws Exception {
        device = new FakeDevice();
        device.bar1[8] = 42;
        FakeDevice inner = device;
        server = FakeServer.start(dir.resolve("slow.sock"), (peer, m) -> {
            if (m.header().commandOrNull() == Command.REGION_READ) {
                Thread.sleep(100);
            }
            inner.respond(peer, m);
        });
        ops = Fixture.open(server);
        Thread.currentThread().interrupt();
        ByteBuffer b = ByteBuffer.allocate(1);
        ops.regionRead(1, 8, b);
        assertThat(Thread.interrupted()).isTrue();
        assertThat(b.get(0)).isEqualTo((byte) 42);
    }

    /** A copy of a message that outlives the responder call (body copied; no descriptors). */
    private static Message retain(Message m) {
        ByteBuffer body = m.body();
        ByteBuffer copy = ByteBuffer.allocate(body.remaining()).put(body).flip();
        return new Message(m.header(), copy, new ArrayList<>());
    }
}
