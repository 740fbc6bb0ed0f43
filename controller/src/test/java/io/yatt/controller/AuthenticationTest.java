package io.yatt.controller;

import static io.yatt.controller.RawOffers.await;
import static io.yatt.controller.RawOffers.offer;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
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
import java.lang.invoke.MethodHandles;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
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
    void shouldNotRegisterWithControllerThatDoesNotChallengeAWorkerWithASecret() {
        try (TestWorkers cluster = new TestWorkers(TestWorkers.context(), 0)) {
            IllegalStateException e = assertThrows(IllegalStateException.class,
                    () -> cluster.startWorker(0, cluster.baseWorker(0).sharedSecret(SECRET)
                            .registrationTimeoutNs(TimeUnit.SECONDS.toNanos(2))));
            assertEquals("registration not answered: workerId=100, controller=" + cluster.plane.endpoint()
                    + ", timeoutMs=2000, reason=the controller accepted without a challenge a worker that has a shared"
                    + " secret (dropped as unauthenticated), controllerId=" + cluster.plane.controllerId(),
                    e.getMessage());
        }
    }

    /**
     * A worker with the secret registers with a controller played by hand while a rogue publication on its reply
     * stream forges ACCEPTED before any challenge, then CHALLENGE and REFUSED after the real challenge was answered:
     * each forged ack is counted as unauthenticated and changes nothing, and the controller's ACCEPTED registers it.
     */
    @Test
    void shouldCountRegisterAcksFromAnotherSessionAsUnauthenticated() throws Exception {
        try (ControlPlane plane = ControlPlane.launch(TestWorkers.context());
             Aeron aeron = Aeron.connect(new Aeron.Context().aeronDirectoryName(plane.driverDirectory()));
             Subscription fakeController = aeron.addSubscription("aeron:udp?endpoint=127.0.0.1:0",
                     ControlPlane.CONTROL_STREAM_ID)) {
            String[] channel = new String[1];
            await(() -> (channel[0] = fakeController.tryResolveChannelEndpointPort()) != null);
            Worker.Context ctx = new Worker.Context().workerId(100).rank(0).roles(List.of("actor"))
                    .methods(WorkerMethods.annotated(new TestWorkers.Methods(0), MethodHandles.lookup()))
                    .controller(channel[0]).externalDriverDirectory(plane.driverDirectory()).pid(5000)
                    .host("host-0").sharedSecret(SECRET);
            CompletableFuture<Worker> started = CompletableFuture.supplyAsync(() -> Worker.start(ctx));
            Message.Register first = receiveRegister(fakeController, false);
            long interval = TimeUnit.SECONDS.toNanos(1);
            byte[] nonce = new byte[32];
            java.util.Arrays.fill(nonce, (byte) 7);
            Worker worker = null;
            try (ExclusivePublication controller = aeron.addExclusivePublication(first.replyChannel(),
                         first.replyStreamId());
                 ExclusivePublication forger = aeron.addExclusivePublication(first.replyChannel(),
                         first.replyStreamId())) {
                send(forger, new Message.RegisterAck(0x66L, 100, Message.AckStatus.ACCEPTED, interval, new byte[0],
                        ""));
                send(controller, new Message.RegisterAck(0x77L, 100, Message.AckStatus.CHALLENGE, interval, nonce,
                        ""));
                Message.Register answered = receiveRegister(fakeController, true);
                assertArrayEquals(hmac(SECRET, nonce, ByteBuffer.allocate(8).putInt(100).putInt(0).array()),
                        answered.mac());
                send(forger, new Message.RegisterAck(0x66L, 100, Message.AckStatus.CHALLENGE, interval,
                        new byte[32], ""));
                send(forger, new Message.RegisterAck(0x66L, 100, Message.AckStatus.REFUSED, interval, new byte[0],
                        "forged"));
                send(controller, new Message.RegisterAck(0x77L, 100, Message.AckStatus.ACCEPTED, interval,
                        new byte[0], ""));
                worker = started.get(30, TimeUnit.SECONDS);
                Worker w = worker;
                await(() -> w.stats().unauthenticatedFrames() >= 3);
                assertEquals(new FrameStats(0, 3, 0), worker.stats());
            } finally {
                if (worker != null) {
                    worker.close();
                }
            }
        }
    }

    private static void send(ExclusivePublication publication, Message message) {
        byte[] bytes = frame(message);
        offer(publication, new UnsafeBuffer(bytes), bytes.length);
    }

    /** The next registration the worker sends to the hand-played controller, with a MAC when {@code signed}. */
    private static Message.Register receiveRegister(Subscription fakeController, boolean signed) {
        FrameDecoder decoder = new FrameDecoder(PayloadCodec.builtIn());
        Message.Register[] got = new Message.Register[1];
        FragmentAssembler assembler = new FragmentAssembler((buffer, offset, length, header) -> {
            try {
                if (decoder.decode(buffer, offset, length) instanceof Message.Register r
                        && (r.mac().length > 0) == signed) {
                    got[0] = r;
                }
            } catch (MalformedFrameException e) {
                throw new AssertionError(e);
            }
        });
        await(() -> fakeController.poll(assembler, 1) >= 0 && got[0] != null);
        return got[0];
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

    /** HMAC-SHA256(key, parts...), computed here independently of the runtime. */
    private static byte[] hmac(byte[] key, byte[]... parts) throws Exception {
        Mac mac = Mac.getInstance("HmacSHA256");
        mac.init(new SecretKeySpec(key, "HmacSHA256"));
        for (byte[] part : parts) {
            mac.update(part);
        }
        return mac.doFinal();
    }

    /** A session key as the docs define it: HMAC(secret, label, nonce, worker id, rank). */
    private static byte[] sessionKey(String label, byte[] nonce, int workerId, int rank) throws Exception {
        return hmac(SECRET, label.getBytes(StandardCharsets.US_ASCII), nonce,
                ByteBuffer.allocate(8).putInt(workerId).putInt(rank).array());
    }

    /** {@code frame} with its trailer: sequence (u64 LE) and the first 16 bytes of HMAC(key, sequence, frame). */
    private static byte[] sealed(byte[] key, long sequence, byte[] frame) throws Exception {
        byte[] seq = ByteBuffer.allocate(8).order(java.nio.ByteOrder.LITTLE_ENDIAN).putLong(sequence).array();
        byte[] tag = hmac(key, seq, frame);
        ByteBuffer out = ByteBuffer.allocate(frame.length + 24);
        out.put(frame).put(seq).put(tag, 0, 16);
        return out.array();
    }

    private static byte[] frame(Message message) {
        FrameEncoder encoder = new FrameEncoder(PayloadCodec.builtIn());
        int length = encoder.encode(message);
        byte[] bytes = new byte[length];
        encoder.buffer().getBytes(0, bytes);
        return bytes;
    }

    /**
     * A worker's frames after a challenged registration must carry the MAC under the session key derived from the
     * nonce: the test registers as worker 9 by hand, then sends results (for no call, so an authentic one is counted
     * as dropped) without a MAC, sealed, replayed, bit-flipped and under the other direction's key; and the
     * controller's heartbeats to it carry a MAC under the controller-to-worker key.
     */
    @Test
    void shouldAuthenticateEveryFrameAfterRegistrationWithTheSessionKey() throws Exception {
        try (TestWorkers cluster = new TestWorkers(TestWorkers.context().sharedSecret(SECRET)
                .heartbeatIntervalNs(TimeUnit.MILLISECONDS.toNanos(20)), 0);
             Aeron aeron = Aeron.connect(new Aeron.Context().aeronDirectoryName(cluster.plane.driverDirectory()));
             ExclusivePublication toController = aeron.addExclusivePublication(cluster.plane.endpoint(),
                     ControlPlane.CONTROL_STREAM_ID);
             Subscription replies = aeron.addSubscription("aeron:ipc", 77_001)) {
            List<byte[]> received = new ArrayList<>();
            FragmentAssembler assembler = new FragmentAssembler((buffer, offset, length, header) -> {
                byte[] bytes = new byte[length];
                buffer.getBytes(offset, bytes);
                received.add(bytes);
            });
            Message.Register unsigned = new Message.Register(9, 0, 1L, 77_001, List.of("actor"), List.of(),
                    List.of(new Message.MethodEntry("noop", "ONE_TO_ALL")), "h", "aeron:ipc", new byte[0]);
            byte[] register = frame(unsigned);
            offer(toController, new UnsafeBuffer(register), register.length);
            await(() -> replies.poll(assembler, 10) >= 0 && received.size() == 1);
            FrameDecoder decoder = new FrameDecoder(PayloadCodec.builtIn());
            Message.RegisterAck challenge = (Message.RegisterAck) decoder.decode(new UnsafeBuffer(received.get(0)), 0,
                    received.get(0).length);
            byte[] nonce = challenge.nonce();
            byte[] mac = hmac(SECRET, nonce, ByteBuffer.allocate(8).putInt(9).putInt(0).array());
            byte[] signed = frame(new Message.Register(9, 0, 1L, 77_001, List.of("actor"), List.of(),
                    List.of(new Message.MethodEntry("noop", "ONE_TO_ALL")), "h", "aeron:ipc", mac));
            offer(toController, new UnsafeBuffer(signed), signed.length);
            // the ack, then the controller's heartbeats
            await(() -> replies.poll(assembler, 10) >= 0 && received.size() >= 3);
            Message.RegisterAck accepted = (Message.RegisterAck) decoder.decode(new UnsafeBuffer(received.get(1)), 0,
                    received.get(1).length);
            assertEquals(Message.AckStatus.ACCEPTED, accepted.status());
            byte[] heartbeat = received.get(2);
            byte[] body = java.util.Arrays.copyOf(heartbeat, heartbeat.length - 24);
            assertEquals(new Message.Heartbeat(9, ((Message.Heartbeat) decoder.decode(new UnsafeBuffer(body), 0,
                    body.length)).timestampNs(), Message.Heartbeat.IN_FLIGHT_UNKNOWN),
                    decoder.decode(new UnsafeBuffer(body), 0, body.length));
            assertArrayEquals(sealed(sessionKey("yatt-session-c2w", nonce, 9, 0), 1, body), heartbeat);

            byte[] w2c = sessionKey("yatt-session-w2c", nonce, 9, 0);
            byte[] result = frame(new Message.Result(12345L, 9, 0, "forged"));
            byte[] first = sealed(w2c, 1, result);
            byte[] flipped = sealed(w2c, 2, result);
            flipped[flipped.length - 1] ^= 1;
            List<byte[]> frames = List.of(result, first, first, flipped,
                    sealed(sessionKey("yatt-session-c2w", nonce, 9, 0), 2, result), sealed(w2c, 2, result));
            List<FrameStats> expected = List.of(new FrameStats(0, 1, 0), new FrameStats(0, 1, 1),
                    new FrameStats(0, 2, 1), new FrameStats(0, 3, 1), new FrameStats(0, 4, 1), new FrameStats(0, 4, 2));
            for (int i = 0; i < frames.size(); i++) {
                offer(toController, new UnsafeBuffer(frames.get(i)), frames.get(i).length);
                FrameStats want = expected.get(i);
                await(() -> cluster.plane.stats().equals(want));
            }
        }
    }

    @Test
    void shouldSendFramesWithoutMacWhenNoSecretIsSet() throws Exception {
        try (TestWorkers cluster = new TestWorkers(TestWorkers.context()
                .heartbeatIntervalNs(TimeUnit.MILLISECONDS.toNanos(20)), 0);
             Aeron aeron = Aeron.connect(new Aeron.Context().aeronDirectoryName(cluster.plane.driverDirectory()));
             ExclusivePublication toController = aeron.addExclusivePublication(cluster.plane.endpoint(),
                     ControlPlane.CONTROL_STREAM_ID);
             Subscription replies = aeron.addSubscription("aeron:ipc", 77_002)) {
            List<byte[]> received = new ArrayList<>();
            FragmentAssembler assembler = new FragmentAssembler((buffer, offset, length, header) -> {
                byte[] bytes = new byte[length];
                buffer.getBytes(offset, bytes);
                received.add(bytes);
            });
            byte[] register = frame(new Message.Register(9, 0, 1L, 77_002, List.of("actor"), List.of(),
                    List.of(new Message.MethodEntry("noop", "ONE_TO_ALL")), "h", "aeron:ipc", new byte[0]));
            offer(toController, new UnsafeBuffer(register), register.length);
            await(() -> replies.poll(assembler, 10) >= 0 && received.size() >= 2);
            FrameDecoder decoder = new FrameDecoder(PayloadCodec.builtIn());
            assertEquals(Message.AckStatus.ACCEPTED, ((Message.RegisterAck) decoder.decode(
                    new UnsafeBuffer(received.get(0)), 0, received.get(0).length)).status());
            Message.Heartbeat heartbeat = (Message.Heartbeat) decoder.decode(new UnsafeBuffer(received.get(1)), 0,
                    received.get(1).length);
            assertEquals(frame(heartbeat).length, received.get(1).length);
            byte[] result = frame(new Message.Result(12345L, 9, 0, "unknown call"));
            offer(toController, new UnsafeBuffer(result), result.length);
            await(() -> cluster.plane.stats().equals(new FrameStats(0, 0, 1)));
        }
    }

    /**
     * With a shared secret, controllers of a mesh accept each other's frames only with a MAC under the receiver's
     * peer key: a step barrier forged without one (claiming a peer's index and id) is counted and does not count.
     */
    @Test
    void shouldCountPeerFrameWithoutMacAsUnauthenticated() throws Exception {
        ControlPlane a = ControlPlane.launch(TestWorkers.context().sharedSecret(SECRET).udp("127.0.0.1", 0)
                .jobName("peer-a"));
        ControlPlane b = ControlPlane.launch(TestWorkers.context().sharedSecret(SECRET).udp("127.0.0.1", 0)
                .jobName("peer-b"));
        try (ControllerMesh meshA = ControllerMesh.join(a, 0, List.of(a.peer(), b.peer()),
                     TimeUnit.MILLISECONDS.toNanos(300));
             ControllerMesh meshB = ControllerMesh.join(b, 1, List.of(a.peer(), b.peer()), TestWorkers.GROUP_TIMEOUT_NS);
             Aeron aeron = Aeron.connect(new Aeron.Context().aeronDirectoryName(a.driverDirectory()));
             ExclusivePublication rogue = aeron.addExclusivePublication(a.endpoint(), ControlPlane.CONTROL_STREAM_ID)) {
            byte[] forged = frame(new Message.StepBarrier(b.controllerId(), 1, 2, 0L));
            offer(rogue, new UnsafeBuffer(forged), forged.length);
            await(() -> a.stats().unauthenticatedFrames() == 1);
            IllegalStateException e = assertThrows(IllegalStateException.class, () -> meshA.barrier(0));
            assertEquals("step barrier timed out: step=0, controller=0, missing=[1], timeoutMs=300", e.getMessage());
            Thread barrierB = Thread.ofPlatform().start(() -> meshB.barrier(1));
            meshA.barrier(1);
            barrierB.join();
            assertEquals(new FrameStats(0, 1, 0), a.stats());
            assertEquals(new FrameStats(0, 0, 0), b.stats());
        } finally {
            a.close();
            b.close();
        }
    }

    /**
     * Peer heartbeats go through the same gate as the other peer frames: without a MAC, or with one that does not
     * verify, they are counted as unauthenticated (a forged "leaving" does not make a controller leave); one that opens
     * but does not decode is counted as malformed. The real, sealed heartbeats keep both controllers alive.
     */
    @Test
    void shouldCountPeerHeartbeatsThatDoNotOpenOrDecode() throws Exception {
        ControlPlane a = ControlPlane.launch(TestWorkers.context().sharedSecret(SECRET).udp("127.0.0.1", 0)
                .jobName("peer-hb-a").peerHeartbeatIntervalNs(TimeUnit.MILLISECONDS.toNanos(50))
                .peerHeartbeatTimeoutNs(TimeUnit.SECONDS.toNanos(30)));
        ControlPlane b = ControlPlane.launch(TestWorkers.context().sharedSecret(SECRET).udp("127.0.0.1", 0)
                .jobName("peer-hb-b").peerHeartbeatIntervalNs(TimeUnit.MILLISECONDS.toNanos(50))
                .peerHeartbeatTimeoutNs(TimeUnit.SECONDS.toNanos(30)));
        List<ControllerMesh.Peer> peers = List.of(a.peer(), b.peer());
        try (ControllerMesh meshA = ControllerMesh.join(a, 0, peers, TestWorkers.GROUP_TIMEOUT_NS);
             ControllerMesh meshB = ControllerMesh.join(b, 1, peers, TestWorkers.GROUP_TIMEOUT_NS);
             Aeron aeron = Aeron.connect(new Aeron.Context().aeronDirectoryName(a.driverDirectory()));
             ExclusivePublication rogue = aeron.addExclusivePublication(a.endpoint(),
                     ControlPlane.CONTROL_STREAM_ID)) {
            byte[] peerKey = hmac(SECRET, "yatt-peer".getBytes(StandardCharsets.US_ASCII),
                    ByteBuffer.allocate(8).putLong(a.controllerId()).array());
            byte[] leaving = frame(new Message.PeerHeartbeat(b.controllerId(), 1, 2, 1L, true));
            offer(rogue, new UnsafeBuffer(leaving), leaving.length);
            byte[] flipped = sealed(peerKey, 1L, leaving);
            flipped[leaving.length - 1] ^= 1;
            offer(rogue, new UnsafeBuffer(flipped), flipped.length);
            await(() -> a.stats().unauthenticatedFrames() == 2);
            byte[] badFlag = leaving.clone();
            badFlag[badFlag.length - 1] = 2;
            byte[] sealedBadFlag = sealed(peerKey, 1L, badFlag);
            offer(rogue, new UnsafeBuffer(sealedBadFlag), sealedBadFlag.length);
            await(() -> a.stats().malformedFrames() == 1);
            Thread barrierB = Thread.ofPlatform().start(() -> meshB.barrier(0));
            meshA.barrier(0);
            barrierB.join();
            assertEquals(new FrameStats(1, 2, 0), a.stats());
            assertEquals(new FrameStats(0, 0, 0), b.stats());
        } finally {
            a.close();
            b.close();
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
    void shouldRejectWildcardUdpHostThatWorkersCannotReach() {
        for (String wildcard : List.of("0.0.0.0", "::")) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> new ControlPlane.Context().udp(wildcard, 40123).sharedSecret(SECRET).conclude());
            assertEquals("udp endpoint host is a wildcard address: host=" + wildcard
                    + ", expected=a routable host or address of this node that workers can reach", e.getMessage());
        }
    }

    @Test
    void shouldRejectShortSecret() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> new ControlPlane.Context().sharedSecret(new byte[8]).conclude());
        assertEquals("shared secret too short: bytes=8, min=16", e.getMessage());
    }


}
