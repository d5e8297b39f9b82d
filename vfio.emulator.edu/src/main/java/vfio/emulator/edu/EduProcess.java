package vfio.emulator.edu;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * The edu emulator in a child JVM ({@link Main}), for tests and tools that need the server in
 * another process: to kill it mid-traffic, for example. The child uses this JVM's java executable
 * and class path.
 *
 * <p>Ownership: the caller; {@link #close()} kills the child if it still runs.
 */
public final class EduProcess implements AutoCloseable {
    private final Process process;
    private final StringBuffer output;

    private EduProcess(Process process, StringBuffer output) {
        this.process = process;
        this.output = output;
    }

    /**
     * Starts the emulator and waits until it listens.
     *
     * @param socket  the socket path it serves
     * @param timeout how long to wait for it to listen
     * @throws IOException if it exits or does not listen in time (with its output)
     */
    public static EduProcess start(Path socket, Duration timeout) throws IOException, InterruptedException {
        String java = ProcessHandle.current().info().command().orElse(System.getProperty("java.home") + "/bin/java");
        Process p = new ProcessBuilder(java, "--enable-native-access=ALL-UNNAMED", "-cp",
                System.getProperty("java.class.path"), Main.class.getName(), "--latency-ms=1", "--socket-path=" + socket)
                .redirectErrorStream(true).start();
        StringBuffer output = new StringBuffer();
        CompletableFuture<Void> listening = new CompletableFuture<>();
        Thread reader = new Thread(() -> {
            try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
                for (String line; (line = r.readLine()) != null; ) {
                    output.append(line).append('\n');
                    if (line.startsWith("listening on ")) {
                        listening.complete(null);
                    }
                }
            } catch (IOException e) {
                // the child died: reported below
            }
            listening.completeExceptionally(new IOException("the edu emulator exited: " + output));
        }, "edu-emulator-output");
        reader.setDaemon(true);
        reader.start();
        try {
            listening.get(timeout.toMillis(), TimeUnit.MILLISECONDS);
        } catch (ExecutionException | TimeoutException e) {
            p.destroyForcibly();
            throw new IOException("the edu emulator did not listen on " + socket + " within " + timeout + ": " + output, e);
        }
        return new EduProcess(p, output);
    }

    /** @return the child process */
    public Process process() {
        return process;
    }

    /** @return what the child printed so far */
    public String output() {
        return output.toString();
    }

    /** Kills the child (SIGKILL) and waits for it. Idempotent. */
    @Override
    public void close() throws InterruptedException {
        if (process.isAlive()) {
            process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
        }
    }
}
