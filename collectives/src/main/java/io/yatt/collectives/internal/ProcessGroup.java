package io.yatt.collectives.internal;

import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Waiting for and stopping a group of child processes launched together (shm rank JVMs, controller worker JVMs), so
 * every launcher waits and terminates alike. Stateless; the lists are read, never modified.
 */
public final class ProcessGroup {

    private ProcessGroup() {
    }

    /**
     * Waits until every process exited, at most {@code timeoutNs} in all.
     *
     * @return the exit codes in list order, -1 for a process still running at the deadline
     * @throws InterruptedException if interrupted while waiting
     */
    public static int[] waitFor(List<Process> processes, long timeoutNs) throws InterruptedException {
        long deadlineNs = System.nanoTime() + timeoutNs;
        int[] codes = new int[processes.size()];
        for (int r = 0; r < codes.length; r++) {
            Process p = processes.get(r);
            long leftNs = Math.max(0, deadlineNs - System.nanoTime());
            codes[r] = p.waitFor(leftNs, TimeUnit.NANOSECONDS) ? p.exitValue() : -1;
        }
        return codes;
    }

    /**
     * Stops what still runs: SIGTERM to every live process, then SIGKILL to each that has not exited
     * {@code graceNs} after its turn comes. An interrupt kills the remaining processes at once and keeps the thread's
     * interrupt status.
     */
    public static void terminate(List<Process> processes, long graceNs) {
        for (Process p : processes) {
            if (p.isAlive()) {
                p.destroy();
            }
        }
        for (Process p : processes) {
            try {
                if (!p.waitFor(graceNs, TimeUnit.NANOSECONDS)) {
                    p.destroyForcibly().waitFor(5, TimeUnit.SECONDS);
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                p.destroyForcibly();
            }
        }
    }
}
