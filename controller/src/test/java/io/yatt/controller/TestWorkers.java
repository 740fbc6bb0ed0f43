package io.yatt.controller;

import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/** A controller and workers as threads of this JVM, on the controller's embedded driver (INVOKER threading). */
final class TestWorkers implements AutoCloseable {

    static final long GROUP_TIMEOUT_NS = TimeUnit.SECONDS.toNanos(30);
    /** Heartbeat timeout of tests that are not about faults: a starved agent on a loaded machine is not a lost worker. */
    static final long RELAXED_HEARTBEAT_TIMEOUT_NS = TimeUnit.SECONDS.toNanos(30);

    /** A control plane context for tests that are not about heartbeats. */
    static ControlPlane.Context context() {
        return new ControlPlane.Context().heartbeatTimeoutNs(RELAXED_HEARTBEAT_TIMEOUT_NS);
    }

    /**
     * A custom dispatch mode, {@code STALL_COLLECT}: dispatched as ONE_TO_ALL; its collect, which runs on the
     * controller agent's thread when the results arrive after callAsync returned (see {@link #stallMethod}), counts
     * {@code entered} down and waits up to 60 s for {@code release} (meanwhile the agent polls nothing and sends no
     * heartbeats, and an INVOKER driver stands), then returns the results as they are.
     */
    static Dispatch stallingCollect(CountDownLatch entered, CountDownLatch release) {
        return new Dispatch() {
            @Override
            public String name() {
                return "STALL_COLLECT";
            }

            @Override
            public List<Object[]> dispatch(Object[] args, GroupTopology topology) {
                return DispatchModes.ONE_TO_ALL.dispatch(args, topology);
            }

            @Override
            public Object collect(List<Object> results, GroupTopology topology) {
                entered.countDown();
                try {
                    release.await(60, TimeUnit.SECONDS);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
                return results;
            }
        };
    }

    /**
     * A worker method without arguments or result that waits for {@code callReturned}: counted down once callAsync
     * returned, the answer reaches the controller after it, so collect runs on the controller agent's thread.
     */
    static MethodHandle stallMethod(CountDownLatch callReturned) {
        try {
            return MethodHandles.lookup().findVirtual(CountDownLatch.class, "await", MethodType.methodType(void.class))
                    .bindTo(callReturned);
        } catch (ReflectiveOperationException e) {
            throw new IllegalStateException(e);
        }
    }

    /** The methods every test worker serves; its rank shapes the results. */
    static final class Methods {
        final int rank;
        final CountDownLatch release = new CountDownLatch(1);
        final CountDownLatch started = new CountDownLatch(1);
        final AtomicInteger addRankCalls = new AtomicInteger();
        final List<Integer> addRankValues = Collections.synchronizedList(new ArrayList<>());

        final String device;

        Methods(int rank) {
            this(rank, "host");
        }

        Methods(int rank, String device) {
            this.rank = rank;
            this.device = device;
        }

        /** The device the worker's process is bound to, as its launcher set it. */
        @WorkerMethod(dispatch = "ONE_TO_ALL", name = "device")
        String boundDevice() {
            return device;
        }

        @WorkerMethod(dispatch = "ONE_TO_ALL")
        void noop() {
        }

        @WorkerMethod(dispatch = "ONE_TO_ALL")
        int addRank(int value) {
            addRankCalls.incrementAndGet();
            addRankValues.add(value);
            return value + rank;
        }

        @WorkerMethod(dispatch = "FIRST_ONLY")
        int firstOnly(int value) {
            return value * 10 + rank;
        }

        @WorkerMethod(dispatch = "RANK_ZERO", name = "whoAnswers")
        String rankName(String prefix) {
            return prefix + rank;
        }

        @WorkerMethod(dispatch = "ONE_TO_ALL")
        int failOnRankOne(String message) {
            if (rank == 1) {
                throw new IllegalStateException(message);
            }
            return rank;
        }

        @WorkerMethod(dispatch = "ONE_TO_ALL")
        Map<String, Object> describe(List<Object> items, byte[] raw, float[] values) {
            return Map.of("rank", rank, "items", items, "raw", raw.length, "sum", (double) (values[0] + values[1]));
        }

        @WorkerMethod(dispatch = "ONE_TO_ALL")
        int blockUntilReleased() throws InterruptedException {
            started.countDown();
            release.await();
            return rank;
        }
    }

    final ControlPlane plane;
    final List<Worker> workers = new ArrayList<>();
    final List<Methods> methods = new ArrayList<>();

    TestWorkers(ControlPlane.Context ctx, int size) {
        plane = ControlPlane.launch(ctx.threading(ControlPlane.Threading.INVOKER));
        try {
            for (int rank = 0; rank < size; rank++) {
                startWorker(rank, baseWorker(rank));
            }
        } catch (RuntimeException e) {
            close();
            throw e;
        }
    }

    Worker.Context baseWorker(int rank) {
        Methods m = new Methods(rank);
        methods.add(m);
        return new Worker.Context().workerId(100 + rank).rank(rank).roles(List.of("actor"))
                .methods(WorkerMethods.annotated(m, MethodHandles.lookup())).controller(plane.endpoint())
                .externalDriverDirectory(plane.driverDirectory()).pid(5000 + rank).host("host-" + rank);
    }

    Worker startWorker(int rank, Worker.Context ctx) {
        Worker w = Worker.start(ctx);
        workers.add(w);
        return w;
    }

    WorkerGroup group() {
        return plane.group("actor", workers.size(), GROUP_TIMEOUT_NS);
    }

    @Override
    public void close() {
        for (Worker w : workers) {
            try {
                w.close();
            } catch (IllegalStateException alreadyClosed) {
                // a test closed it to stop its heartbeats
            }
        }
        plane.close();
    }
}
