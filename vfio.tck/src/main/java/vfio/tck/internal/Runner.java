package vfio.tck.internal;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.stream.Collectors;
import vfio.tck.CheckInfo;
import vfio.tck.CheckResult;
import vfio.tck.Outcome;
import vfio.tck.Subject;

/**
 * Runs one check on its own daemon thread, so that a backend call that hangs fails the check (with
 * the hung thread's stack) instead of hanging the kit. The check's devices are closed and the kit's
 * resources freed on that thread when the check ends; after a hang they are abandoned, as the thread
 * still uses them.
 */
public final class Runner {
    private Runner() {
    }

    /**
     * @param check   a check of {@link Catalog#checks()}
     * @param subject what to run it on
     * @return the result; never throws
     */
    public static CheckResult run(CheckInfo check, Subject subject) {
        Definition d = Catalog.definition(check.id());
        long start = System.nanoTime();
        Probe probe = new Probe(subject);
        CompletableFuture<Throwable> done = new CompletableFuture<>();
        Thread worker = new Thread(() -> {
            Throwable failure = null;
            try {
                d.body().run(probe);
            } catch (Throwable t) {
                failure = t;
            }
            try {
                probe.release();
            } catch (Throwable t) {
                probe.problem("releasing the check's resources failed: " + Describe.exception(t));
            }
            done.complete(failure);
        }, "vfio-tck " + check.id());
        worker.setDaemon(true);
        worker.start();
        Throwable failure;
        try {
            failure = done.get(subject.checkTimeout().toMillis(), TimeUnit.MILLISECONDS);
        } catch (TimeoutException e) {
            String stack = Arrays.stream(worker.getStackTrace()).limit(12).map(StackTraceElement::toString)
                    .collect(Collectors.joining(" <- "));
            worker.interrupt();
            awaitQuietly(done, subject); // let the interrupted check release its device before the next starts
            return result(check, Outcome.FAILED, "did not finish within " + subject.checkTimeout().toSeconds()
                    + " s: a backend call hung (every call must give up within OpenRequest.timeout, here "
                    + subject.timeout().toMillis() + " ms); the check's device is abandoned. Stuck in: " + stack, start);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            worker.interrupt();
            return result(check, Outcome.FAILED, "interrupted while waiting for the check", start);
        } catch (ExecutionException e) {
            failure = e.getCause();
        }
        List<String> problems = new ArrayList<>(probe.problems());
        String skipped = null;
        if (failure instanceof Skipped s) {
            skipped = s.getMessage();
        } else if (failure instanceof Problem p) {
            problems.add(p.getMessage());
        } else if (failure != null) {
            problems.add("unexpected " + Describe.exception(failure)
                    + kitFrame(failure));
        }
        List<String> notes = probe.notes();
        if (!problems.isEmpty()) {
            return result(check, Outcome.FAILED, String.join("; ", problems) + noteSuffix(notes), start);
        }
        if (skipped != null) {
            return result(check, Outcome.SKIPPED, skipped, start);
        }
        return result(check, Outcome.PASSED, notes.isEmpty() ? "ok" : String.join("; ", notes), start);
    }

    private static void awaitQuietly(CompletableFuture<Throwable> done, Subject subject) {
        try {
            done.get(subject.timeout().toMillis(), TimeUnit.MILLISECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (ExecutionException | TimeoutException e) {
            // still stuck (it ignores interrupts): abandoned, as the message says
        }
    }

    /** @return where in the kit the failing call was made, so the author knows which call it was */
    private static String kitFrame(Throwable t) {
        for (StackTraceElement e : t.getStackTrace()) {
            if (e.getClassName().startsWith(Runner.class.getPackageName() + ".")) {
                return " (called from " + e + ")";
            }
        }
        return "";
    }

    private static String noteSuffix(List<String> notes) {
        return notes.isEmpty() ? "" : " [notes: " + String.join("; ", notes) + "]";
    }

    private static CheckResult result(CheckInfo check, Outcome outcome, String message, long start) {
        return new CheckResult(check, outcome, message, Duration.ofNanos(System.nanoTime() - start));
    }
}
