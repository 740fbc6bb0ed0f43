package io.yatt.controller;

import io.yatt.collectives.Communicator;
import io.yatt.collectives.Communicators;
import io.yatt.collectives.RendezvousConfig;
import io.yatt.collectives.SharedMemory;
import io.yatt.collectives.ShmContext;
import io.yatt.tensor.Allocator;
import io.yatt.tensor.DType;
import io.yatt.tensor.Device;
import io.yatt.tensor.Shape;
import io.yatt.tensor.Tensor;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandles;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;

/**
 * A worker JVM for {@link ShmReferenceTest}, one rank of a shm world of two: rank 0 is the "actor" (rows of 1 KiB
 * whose bytes follow {@link RemoteReferenceMain#rowByte}, kept by reference in its arena), rank 1 the "critic" of
 * group rank 0, which pulls them in place from the actor's arena.
 */
final class ShmReferenceMain {

    /** Arena of each rank: room for the staging buffers and the largest step's region. */
    static final long ARENA_BYTES = 8L << 20;

    private ShmReferenceMain() {
    }

    /** SHA-256 of {@code t}'s bytes, hex. */
    static String digestOf(Tensor t) throws NoSuchAlgorithmException {
        return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256")
                .digest(t.segment().toArray(ValueLayout.JAVA_BYTE)));
    }

    /** What every rank reports: see {@link Actor#stats()}. */
    static final class Stats {
        final Allocator allocator;
        final SharedMemory shared;
        Worker worker;

        Stats(Allocator allocator, SharedMemory shared) {
            this.allocator = allocator;
            this.shared = shared;
        }

        List<Long> get() {
            PayloadStats s = worker.payloadStats();
            return List.of(allocator.allocatedBytes(), shared.arenaUsedBytes(), s.referenceServedBytes(),
                    s.referenceFetchedBytes(), s.referenceSharedBytes());
        }
    }

    static final class Actor {
        final Stats stats;

        Actor(Stats stats) {
            this.stats = stats;
        }

        @WorkerMethod(dispatch = "ONE_TO_ALL")
        DataBatch produce(long step, int rows) {
            Allocator allocator = stats.allocator;
            Tensor bytes = Tensor.allocate(allocator, DType.U8, Shape.of(rows, 1024), Device.host());
            for (int i = 0; i < rows; i++) {
                for (int j = 0; j < 1024; j++) {
                    bytes.segment().set(ValueLayout.JAVA_BYTE, i * 1024L + j, RemoteReferenceMain.rowByte(step, i, j));
                }
            }
            return DataBatch.builder(allocator).tensor("bytes", bytes).build();
        }

        /**
         * This worker's allocated bytes, its arena's bytes in use, and its reference bytes served and fetched over
         * Aeron and copied from shared memory.
         */
        @WorkerMethod(dispatch = "ONE_TO_ALL")
        List<Long> stats() {
            return stats.get();
        }
    }

    static final class Critic {
        final Stats stats;

        Critic(Stats stats) {
            this.stats = stats;
        }

        /** SHA-256 of the batch's "bytes" tensor, as this worker received it. */
        @WorkerMethod(dispatch = "ONE_TO_ALL")
        String digest(DataBatch batch) throws NoSuchAlgorithmException {
            return digestOf(batch.tensor("bytes"));
        }

        /** As {@link #digest}, on rank 0 only (this worker). */
        @WorkerMethod(dispatch = "RANK_ZERO")
        String digestFirst(DataBatch batch) throws NoSuchAlgorithmException {
            return digestOf(batch.tensor("bytes"));
        }

        /** As {@link Actor#stats()}. */
        @WorkerMethod(dispatch = "ONE_TO_ALL")
        List<Long> stats() {
            return stats.get();
        }
    }

    public static void main(String[] args) throws InterruptedException {
        Map<String, String> env = System.getenv();
        Worker.Context ctx = Worker.Context.fromEnvironment(env);
        try (Communicator world = Communicators.shm(RendezvousConfig.fromEnvironment(env),
                     new ShmContext().arenaBytes(ARENA_BYTES).stagingBytes(64 * 1024).splitStagingBytes(64 * 1024));
             SharedMemory shared = Communicators.sharedMemory(world).orElseThrow();
             Allocator allocator = Allocator.root("shm-refs-" + world.rank())) {
            Stats stats = new Stats(allocator, shared);
            boolean actor = world.rank() == 0;
            try (Worker worker = Worker.start(ctx.roles(List.of(actor ? "actor" : "critic"))
                    .rank(0).allocator(allocator).communicators(List.of(world))
                    .methods(WorkerMethods.annotated(actor ? new Actor(stats) : new Critic(stats),
                            MethodHandles.lookup())))) {
                stats.worker = worker;
                worker.awaitShutdown();
            }
        }
    }
}
