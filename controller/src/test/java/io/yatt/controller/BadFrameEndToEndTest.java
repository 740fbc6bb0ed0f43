package io.yatt.controller;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.aeron.Aeron;
import io.aeron.ExclusivePublication;
import io.yatt.controller.internal.runtime.WorkerChannels;
import io.yatt.controller.internal.wire.FrameEncoder;
import io.yatt.controller.internal.wire.Message;
import io.yatt.controller.internal.wire.PayloadCodec;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import java.util.function.LongSupplier;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Corrupt frames through Aeron into a live controller's and a live worker's agents, with and without a shared secret
 * (then every frame after registration must carry a MAC): each is counted once (malformed, or unauthenticated when it
 * decodes but comes from an unknown session or fails its MAC), nothing is applied, and the group still answers
 * afterwards.
 */
class BadFrameEndToEndTest {

    private static final long SEED = 20261201L;
    private static final int FRAMES = 300;
    private static final byte[] SECRET = "0123456789abcdef-bad-frames".getBytes(java.nio.charset.StandardCharsets.UTF_8);

    /** A controller with one worker, both with the shared secret when {@code secret}. */
    private static TestWorkers cluster(boolean secret) {
        TestWorkers cluster = new TestWorkers(TestWorkers.context().sharedSecret(secret ? SECRET : null), 0);
        try {
            cluster.startWorker(0, cluster.baseWorker(0).sharedSecret(secret ? SECRET : null));
        } catch (RuntimeException e) {
            cluster.close();
            throw e;
        }
        return cluster;
    }

    /**
     * Random bytes, truncations, wrong versions, bit flips and wrong MAC trailers (24 random bytes after a valid frame)
     * of frames a rogue sender might forge.
     */
    private static List<byte[]> badFrames(List<Message> forged) {
        Random random = new Random(SEED);
        FrameEncoder encoder = new FrameEncoder(PayloadCodec.builtIn());
        List<byte[]> valid = new ArrayList<>();
        for (Message m : forged) {
            int length = encoder.encode(m);
            byte[] frame = new byte[length];
            encoder.buffer().getBytes(0, frame);
            valid.add(frame);
        }
        List<byte[]> frames = new ArrayList<>();
        for (int i = 0; i < FRAMES; i++) {
            byte[] base = valid.get(random.nextInt(valid.size())).clone();
            switch (i % 5) {
                case 0 -> {
                    byte[] noise = new byte[1 + random.nextInt(80)];
                    random.nextBytes(noise);
                    frames.add(noise);
                }
                case 1 -> frames.add(Arrays.copyOf(base, random.nextInt(base.length)));
                case 2 -> {
                    int version = 3 + random.nextInt(60000);
                    base[6] = (byte) version;
                    base[7] = (byte) (version >>> 8);
                    frames.add(base);
                }
                case 3 -> {
                    base[random.nextInt(base.length)] ^= (byte) (1 << random.nextInt(8));
                    frames.add(base);
                }
                default -> {
                    byte[] trailer = new byte[24];
                    random.nextBytes(trailer);
                    byte[] withTrailer = Arrays.copyOf(base, base.length + trailer.length);
                    System.arraycopy(trailer, 0, withTrailer, base.length, trailer.length);
                    frames.add(withTrailer);
                }
            }
        }
        return frames;
    }

    private static void sendAll(ExclusivePublication publication, List<byte[]> frames) {
        for (byte[] frame : frames) {
            if (frame.length == 0) {
                frame = new byte[] {0};
            }
            UnsafeBuffer buffer = new UnsafeBuffer(frame);
            long deadlineNs = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
            while (publication.offer(buffer, 0, frame.length) < 0) {
                if (System.nanoTime() - deadlineNs > 0) {
                    throw new AssertionError("offer did not go through: " + publication);
                }
                LockSupport.parkNanos(100_000);
            }
        }
    }

    private static void awaitCount(LongSupplier count, long expected) {
        long deadlineNs = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (count.getAsLong() < expected) {
            if (System.nanoTime() - deadlineNs > 0) {
                throw new AssertionError("frames counted: " + count.getAsLong() + ", expected=" + expected);
            }
            LockSupport.parkNanos(1_000_000);
        }
    }

    @ParameterizedTest
    @ValueSource(booleans = {false, true})
    void shouldCountEveryBadFrameAtControllerAndStillServe(boolean secret) {
        List<Message> forged = List.of(new Message.Heartbeat(100, 1L, 0),
                new Message.Result(1L, 100, 0, List.of("forged")), new Message.Error(1L, 100, 0, "T", "forged"));
        try (TestWorkers cluster = cluster(secret);
             Aeron aeron = Aeron.connect(new Aeron.Context().aeronDirectoryName(cluster.plane.driverDirectory()));
             ExclusivePublication rogue = aeron.addExclusivePublication(cluster.plane.endpoint(),
                     ControlPlane.CONTROL_STREAM_ID)) {
            sendAll(rogue, badFrames(forged));
            awaitCount(() -> {
                FrameStats s = cluster.plane.stats();
                return s.malformedFrames() + s.unauthenticatedFrames() + s.droppedFrames();
            }, FRAMES);
            FrameStats stats = cluster.plane.stats();
            assertEquals(FRAMES, stats.malformedFrames() + stats.unauthenticatedFrames());
            assertEquals(0, stats.droppedFrames());
            assertEquals(1, cluster.plane.group("actor", 1, TestWorkers.GROUP_TIMEOUT_NS).size());
            assertEquals(List.of(4), cluster.group().call("addRank", 4));
        }
    }

    @ParameterizedTest
    @ValueSource(booleans = {false, true})
    void shouldCountEveryBadFrameAtWorkerAndStillServe(boolean secret) {
        try (TestWorkers cluster = cluster(secret);
             Aeron aeron = Aeron.connect(new Aeron.Context().aeronDirectoryName(cluster.plane.driverDirectory()));
             ExclusivePublication rogue = aeron.addExclusivePublication("aeron:ipc",
                     WorkerChannels.replyStreamId(100))) {
            long controllerId = cluster.plane.controllerId();
            List<Message> forged = List.of(
                    new Message.Invoke(1L, controllerId, 0L, "actor", "addRank", "ONE_TO_ALL", false, List.of(1)),
                    new Message.InvokeInput(1L, controllerId, false, List.of(1)),
                    new Message.Shutdown(controllerId, "forged"), new Message.Abort(controllerId, "forged"),
                    new Message.Cancel(1L, controllerId));
            Worker worker = cluster.workers.get(0);
            sendAll(rogue, badFrames(forged));
            awaitCount(() -> {
                FrameStats s = worker.stats();
                return s.malformedFrames() + s.unauthenticatedFrames() + s.droppedFrames();
            }, FRAMES);
            FrameStats stats = worker.stats();
            assertEquals(FRAMES, stats.malformedFrames() + stats.unauthenticatedFrames());
            assertEquals(0, stats.droppedFrames());
            assertEquals(List.of(9), cluster.group().call("addRank", 9));
        }
    }
}
