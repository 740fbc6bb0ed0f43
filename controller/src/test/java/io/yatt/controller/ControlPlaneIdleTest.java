package io.yatt.controller;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.lang.invoke.MethodHandles;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.agrona.concurrent.BackoffIdleStrategy;
import org.agrona.concurrent.BusySpinIdleStrategy;
import org.agrona.concurrent.IdleStrategy;
import org.agrona.concurrent.YieldingIdleStrategy;
import org.junit.jupiter.api.Test;

class ControlPlaneIdleTest {

    @Test
    void shouldBuildTheAgronaStrategyOfEachChoice() {
        assertTrue(ControlPlane.Idle.BUSY_SPIN.newStrategy() instanceof BusySpinIdleStrategy);
        assertTrue(ControlPlane.Idle.YIELDING.newStrategy() instanceof YieldingIdleStrategy);
        IdleStrategy backoff = ControlPlane.Idle.BACKOFF.newStrategy();
        assertTrue(backoff instanceof BackoffIdleStrategy, backoff.toString());
        // 10 spins, 20 yields, then parks from 1 us doubling up to 1 ms
        String text = backoff.toString();
        for (String part : new String[] {"maxSpins=10", "maxYields=20", "minParkPeriodNs=1000,",
            "maxParkPeriodNs=1000000"}) {
            assertTrue(text.contains(part), text);
        }
    }

    /**
     * A resource check, not a speed check: an idle plane and worker with BACKOFF (the default) leave the CPU alone.
     * Over one idle second, no yatt agent thread (controller, worker, reference server) and no media driver or Aeron
     * client conductor thread may use a fifth of the CPU time that a thread of this test spinning over the same
     * second got (on a quiet machine a whole core; on a shared one its share, which a spinning agent would get too).
     */
    @Test
    void shouldNotBurnACoreWhenIdleWithBackoff() throws Exception {
        ThreadMXBean threads = ManagementFactory.getThreadMXBean();
        assumeTrue(threads.isThreadCpuTimeSupported(), "thread CPU time is not measurable on this JVM");
        threads.setThreadCpuTimeEnabled(true);
        try (ControlPlane plane = ControlPlane.launch(TestWorkers.context().idle(ControlPlane.Idle.BACKOFF));
             Worker worker = Worker.start(new Worker.Context().workerId(100).rank(0).roles(List.of("actor"))
                     .idle(ControlPlane.Idle.BACKOFF)
                     .methods(WorkerMethods.annotated(new TestWorkers.Methods(0), MethodHandles.lookup()))
                     .controller(plane.endpoint()).externalDriverDirectory(plane.driverDirectory()))) {
            WorkerGroup group = plane.group("actor", 1, TestWorkers.GROUP_TIMEOUT_NS);
            assertEquals(List.of(8), group.call("addRank", 8));
            Map<Long, String> watched = watchedThreads();
            assertTrue(watched.containsValue("yatt-controller") && watched.containsValue("yatt-worker-100"),
                    "agent threads: " + watched);
            AtomicBoolean spinning = new AtomicBoolean(true);
            Thread spinner = new Thread(() -> {
                while (spinning.get()) {
                    Thread.onSpinWait();
                }
            }, "idle-test-spinner");
            spinner.start();
            long spinnerBefore = threads.getThreadCpuTime(spinner.threadId());
            Map<Long, Long> before = cpuNs(threads, watched);
            Thread.sleep(1000);
            Map<Long, Long> after = cpuNs(threads, watched);
            long spinNs = threads.getThreadCpuTime(spinner.threadId()) - spinnerBefore;
            spinning.set(false);
            spinner.join();
            for (Map.Entry<Long, Long> e : after.entrySet()) {
                Long was = before.get(e.getKey());
                if (was == null) {
                    continue;
                }
                long usedNs = e.getValue() - was;
                assertTrue(usedNs < spinNs / 5, "idle thread busy: thread=" + watched.get(e.getKey())
                        + ", cpuMs=" + TimeUnit.NANOSECONDS.toMillis(usedNs) + ", spinnerCpuMs="
                        + TimeUnit.NANOSECONDS.toMillis(spinNs) + ", limit=20% of the spinner's");
            }
        }
    }

    /** The live threads of the control plane and its driver, by id: yatt agents, driver and client conductors. */
    private static Map<Long, String> watchedThreads() {
        Map<Long, String> watched = new HashMap<>();
        for (Thread t : Thread.getAllStackTraces().keySet()) {
            String name = t.getName();
            if (name.startsWith("yatt-") || name.contains("conductor") || name.contains("sender")
                    || name.contains("receiver")) {
                watched.put(t.threadId(), name);
            }
        }
        return watched;
    }

    private static Map<Long, Long> cpuNs(ThreadMXBean threads, Map<Long, String> watched) {
        Map<Long, Long> cpu = new HashMap<>();
        for (long id : watched.keySet()) {
            long ns = threads.getThreadCpuTime(id);
            if (ns >= 0) {
                cpu.put(id, ns);
            }
        }
        return cpu;
    }

    @Test
    void shouldBuildTheWindowedBackOffWithTheSameSpinsAndParksAndA100MicrosecondYieldWindow() {
        IdleStrategy windowed = ControlPlane.Idle.WINDOWED_BACKOFF.newStrategy();
        assertEquals("WindowedBackoffIdleStrategy{maxSpins=10, yieldWindowNs=100000, minParkPeriodNs=1000,"
            + " maxParkPeriodNs=1000000}", windowed.toString());
        assertEquals("windowed-backoff", windowed.alias());
    }

    @Test
    void shouldBuildANewStrategyPerCallBecauseAStrategyHoldsOneThreadsState() {
        assertNotSame(ControlPlane.Idle.BACKOFF.newStrategy(), ControlPlane.Idle.BACKOFF.newStrategy());
        assertEquals("backoff", ControlPlane.Idle.BACKOFF.newStrategy().alias());
    }
}
