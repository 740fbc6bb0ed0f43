package io.yatt.controller;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.aeron.Aeron;
import io.aeron.ExclusivePublication;
import io.aeron.FragmentAssembler;
import io.aeron.Subscription;
import io.yatt.controller.internal.wire.FrameDecoder;
import io.yatt.controller.internal.wire.FrameEncoder;
import io.yatt.controller.internal.wire.MalformedFrameException;
import io.yatt.controller.internal.wire.Message;
import io.yatt.controller.internal.wire.PayloadCodec;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import java.util.concurrent.locks.LockSupport;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.Test;

class AuthenticationTest {

    private static final byte[] SECRET = "0123456789abcdef-job-secret".getBytes(StandardCharsets.UTF_8);
    private static final byte[] WRONG = "0123456789abcdef-not-the-one".getBytes(StandardCharsets.UTF_8);

    @Test
    void shouldAcceptWorkerWithSharedSecret() {
        try (TestWorkers cluster = new TestWorkers(TestWorkers.context().sharedSecret(SECRET), 0)) {
            cluster.startWorker(0, cluster.baseWorker(0).sharedSecret(SECRET));
            assertEquals(List.of(7), cluster.group().call("addRank", 7));
            assertEquals(new FrameStats(0, 0, 0), cluster.plane.stats());
        }
    }

    @Test
    void shouldRefuseWorkerWithoutSecret() {
        try (TestWorkers cluster = new TestWorkers(TestWorkers.context().sharedSecret(SECRET), 0)) {
            IllegalStateException e = assertThrows(IllegalStateException.class,
                    () -> cluster.startWorker(0, cluster.baseWorker(0)));
            assertEquals("registration refused: the controller requires a shared secret, workerId=100",
                    e.getMessage());
            assertThrows(IllegalStateException.class, () -> cluster.plane.group("actor", 1, 20_000_000L));
        }
    }

    @Test
    void shouldRefuseAndCountWorkerWithWrongSecret() {
        try (TestWorkers cluster = new TestWorkers(TestWorkers.context().sharedSecret(SECRET), 0)) {
            IllegalStateException e = assertThrows(IllegalStateException.class,
                    () -> cluster.startWorker(0, cluster.baseWorker(0).sharedSecret(WRONG)));
            assertEquals("registration refused: reason=authentication failed, workerId=100", e.getMessage());
            assertEquals(new FrameStats(0, 1, 0), cluster.plane.stats());
        }
    }

    @Test
    void shouldCountFramesFromUnregisteredSenderAndGarbageWithoutApplyingThem() {
        try (TestWorkers cluster = new TestWorkers(TestWorkers.context(), 1);
             Aeron aeron = Aeron.connect(new Aeron.Context().aeronDirectoryName(cluster.plane.driverDirectory()));
             ExclusivePublication rogue = aeron.addExclusivePublication(cluster.plane.endpoint(),
                     ControlPlane.CONTROL_STREAM_ID)) {
            FrameEncoder encoder = new FrameEncoder(PayloadCodec.builtIn());
            int length = encoder.encode(new Message.Result(1L, 100, 0, "forged"));
            offer(rogue, encoder.buffer(), length);
            offer(rogue, new UnsafeBuffer(new byte[] {1, 2, 3, 4, 5, 6, 7, 8, 9}), 9);
            await(() -> cluster.plane.stats().unauthenticatedFrames() == 1
                    && cluster.plane.stats().malformedFrames() == 1);
            assertEquals(new FrameStats(1, 1, 0), cluster.plane.stats());
            assertEquals(List.of(3), cluster.group().call("addRank", 3));
        }
    }

    @Test
    void shouldRepeatNonceForRepeatedRegistrationAndAcceptMacOverIt() throws Exception {
        try (TestWorkers cluster = new TestWorkers(TestWorkers.context().sharedSecret(SECRET), 0);
             Aeron aeron = Aeron.connect(new Aeron.Context().aeronDirectoryName(cluster.plane.driverDirectory()));
             ExclusivePublication toController = aeron.addExclusivePublication(cluster.plane.endpoint(),
                     ControlPlane.CONTROL_STREAM_ID);
             Subscription replies = aeron.addSubscription("aeron:ipc", 77_000)) {
            Message.Register unsigned = new Message.Register(9, 0, 1L, 77_000, List.of("actor"), List.of(),
                    List.of(new Message.MethodEntry("noop", "ONE_TO_ALL")), "h", "aeron:ipc", new byte[0]);
            FrameEncoder encoder = new FrameEncoder(PayloadCodec.builtIn());
            offer(toController, encoder.buffer(), encoder.encode(unsigned));
            offer(toController, encoder.buffer(), encoder.encode(unsigned));
            List<Message.RegisterAck> acks = new ArrayList<>();
            FrameDecoder decoder = new FrameDecoder(PayloadCodec.builtIn());
            FragmentAssembler assembler = new FragmentAssembler((buffer, offset, length, header) -> {
                try {
                    acks.add((Message.RegisterAck) decoder.decode(buffer, offset, length));
                } catch (MalformedFrameException e) {
                    throw new AssertionError(e);
                }
            });
            await(() -> replies.poll(assembler, 10) >= 0 && acks.size() == 2);
            assertEquals(Message.AckStatus.CHALLENGE, acks.get(0).status());
            assertEquals(32, acks.get(0).nonce().length);
            assertEquals(acks.get(0), acks.get(1));
            Mac hmac = Mac.getInstance("HmacSHA256");
            hmac.init(new SecretKeySpec(SECRET, "HmacSHA256"));
            hmac.update(acks.get(0).nonce());
            hmac.update(ByteBuffer.allocate(8).putInt(9).putInt(0).array());
            byte[] mac = hmac.doFinal();
            Message.Register signed = new Message.Register(9, 0, 1L, 77_000, List.of("actor"), List.of(),
                    List.of(new Message.MethodEntry("noop", "ONE_TO_ALL")), "h", "aeron:ipc", mac);
            offer(toController, encoder.buffer(), encoder.encode(signed));
            await(() -> replies.poll(assembler, 10) >= 0 && acks.size() == 3);
            assertEquals(Message.AckStatus.ACCEPTED, acks.get(2).status());
            assertEquals(new FrameStats(0, 0, 0), cluster.plane.stats());
        }
    }

    @Test
    void shouldRequireSecretForUdpBeyondLoopback() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> new ControlPlane.Context().udp("10.1.2.3", 40123).conclude());
        assertEquals("a udp endpoint beyond loopback requires a shared secret: host=10.1.2.3", e.getMessage());
        new ControlPlane.Context().udp("10.1.2.3", 40123).sharedSecret(SECRET).conclude();
        new ControlPlane.Context().udp("127.0.0.1", 40123).conclude();
    }

    @Test
    void shouldRejectShortSecret() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> new ControlPlane.Context().sharedSecret(new byte[8]).conclude());
        assertEquals("shared secret too short: bytes=8, min=16", e.getMessage());
    }

    private static void offer(ExclusivePublication publication, org.agrona.DirectBuffer buffer, int length) {
        long deadlineNs = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (publication.offer(buffer, 0, length) < 0) {
            if (System.nanoTime() - deadlineNs > 0) {
                throw new AssertionError("offer did not go through: " + publication);
            }
            LockSupport.parkNanos(1_000_000);
        }
    }

    private static void await(BooleanSupplier condition) {
        long deadlineNs = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() - deadlineNs > 0) {
                throw new AssertionError("condition not reached in 30 s");
            }
            LockSupport.parkNanos(1_000_000);
        }
    }
}
