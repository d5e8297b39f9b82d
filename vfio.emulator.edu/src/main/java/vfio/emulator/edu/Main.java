package vfio.emulator.edu;

import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;

/**
 * Runs the edu emulation as a process (the vfio-user backend program conventions):
 *
 * <pre>
 * java -cp ... vfio.emulator.edu.Main [--latency-ms=N] [--socket-path=]PATH
 * </pre>
 *
 * Prints {@code listening on PATH} once clients can connect, and serves until SIGTERM or SIGINT.
 * Exit status 2 for bad arguments, 1 if the socket cannot be created.
 */
public final class Main {
    private Main() {
    }

    public static void main(String[] args) throws InterruptedException {
        Path socket = null;
        Duration latency = EduEmulator.DEFAULT_LATENCY;
        for (String a : args) {
            if (a.startsWith("--socket-path=")) {
                socket = Path.of(a.substring("--socket-path=".length()));
            } else if (a.startsWith("--latency-ms=")) {
                try {
                    latency = Duration.ofMillis(Long.parseLong(a.substring("--latency-ms=".length())));
                } catch (NumberFormatException e) {
                    usage("bad latency: " + a);
                }
            } else if (a.startsWith("-") || socket != null) {
                usage("unexpected argument: " + a);
            } else {
                socket = Path.of(a);
            }
        }
        if (socket == null) {
            usage("no socket path given");
        }
        EduEmulator edu;
        try {
            edu = EduEmulator.start(socket, latency);
        } catch (IOException | RuntimeException e) {
            System.err.println("edu emulator: cannot serve on " + socket + ": " + e.getMessage());
            System.exit(1);
            return;
        }
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            edu.close();
            stopped.countDown();
        }, "edu-emulator-shutdown"));
        System.out.println("listening on " + edu.socket());
        System.out.flush();
        stopped.await();
    }

    private static void usage(String problem) {
        System.err.println("edu emulator: " + problem);
        System.err.println("usage: java -cp ... vfio.emulator.edu.Main [--latency-ms=N] [--socket-path=]PATH");
        System.exit(2);
    }
}
