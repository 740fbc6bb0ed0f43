package io.yatt.controller;

import static io.yatt.controller.RawOffers.await;
import static io.yatt.controller.RawOffers.offer;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.aeron.Aeron;
import io.aeron.ExclusivePublication;
import io.aeron.Subscription;
import io.yatt.controller.internal.wire.FrameEncoder;
import io.yatt.controller.internal.wire.Message;
import io.yatt.controller.internal.wire.PayloadCodec;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.agrona.CloseHelper;
import org.agrona.DirectBuffer;
import org.junit.jupiter.api.Test;

class RegistrationBoundsTest {

    private static final byte[] SECRET = "0123456789abcdef-job-secret".getBytes(StandardCharsets.UTF_8);
    private static final int REPLY_STREAM = 78_000;

    @Test
    void shouldCapPendingRegistrationsAndCountTheFlood() {
        int cap = 4;
        int flood = 12;
        ControlPlane.Context ctx = TestWorkers.context().sharedSecret(SECRET).maxPendingRegistrations(cap)
                .pendingRegistrationTimeoutNs(TimeUnit.SECONDS.toNanos(60));
        List<ExclusivePublication> senders = new ArrayList<>();
        try (TestWorkers cluster = new TestWorkers(ctx, 0);
             Aeron aeron = Aeron.connect(new Aeron.Context().aeronDirectoryName(cluster.plane.driverDirectory()))) {
            FrameEncoder encoder = new FrameEncoder(PayloadCodec.builtIn());
            try {
                // each exclusive publication is a session of its own, as many forged registrants would be
                for (int i = 0; i < flood; i++) {
                    ExclusivePublication p = aeron.addExclusivePublication(cluster.plane.endpoint(),
                            ControlPlane.CONTROL_STREAM_ID);
                    senders.add(p);
                    offer(p, encoder.buffer(), encoder.encode(unsigned(1000 + i)));
                }
                await(() -> cluster.plane.stats().unauthenticatedFrames() == flood - cap);
                assertEquals(cap, cluster.plane.pendingRegistrations());
                assertEquals(new FrameStats(0, flood - cap, 0), cluster.plane.stats());
                // a registration repeated from a session already pending is answered, not counted again
                offer(senders.get(0), encoder.buffer(), encoder.encode(unsigned(1000)));
                offer(senders.get(flood - 1), encoder.buffer(), encoder.encode(unsigned(1000 + flood - 1)));
                await(() -> cluster.plane.stats().unauthenticatedFrames() == flood - cap + 1);
                assertEquals(cap, cluster.plane.pendingRegistrations());
            } finally {
                senders.forEach(CloseHelper::quietClose);
            }
        }
    }

    @Test
    void shouldForgetExpiredChallengeAndCloseItsPublication() {
        ControlPlane.Context ctx = TestWorkers.context().sharedSecret(SECRET)
                .pendingRegistrationTimeoutNs(TimeUnit.MILLISECONDS.toNanos(300));
        try (TestWorkers cluster = new TestWorkers(ctx, 0);
             Aeron aeron = Aeron.connect(new Aeron.Context().aeronDirectoryName(cluster.plane.driverDirectory()));
             Subscription replies = aeron.addSubscription("aeron:ipc", REPLY_STREAM);
             ExclusivePublication toController = aeron.addExclusivePublication(cluster.plane.endpoint(),
                     ControlPlane.CONTROL_STREAM_ID)) {
            FrameEncoder encoder = new FrameEncoder(PayloadCodec.builtIn());
            offer(toController, encoder.buffer(), encoder.encode(unsigned(9)));
            await(() -> replies.imageCount() == 1);
            assertEquals(1, cluster.plane.pendingRegistrations());
            // never answered: the controller forgets the challenge and closes the publication to the reply channel
            await(() -> cluster.plane.pendingRegistrations() == 0);
            // (an ipc image goes once it is drained: the challenge is read off it)
            await(() -> replies.poll((buffer, offset, length, header) -> { }, 10) >= 0 && replies.imageCount() == 0);
            // and a worker with the secret still registers
            cluster.startWorker(0, cluster.baseWorker(0).sharedSecret(SECRET));
            assertEquals(List.of(5), cluster.group().call("addRank", 5));
            assertEquals(0, cluster.plane.pendingRegistrations());
        }
    }

    @Test
    void shouldRejectNonPositivePendingBounds() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> new ControlPlane.Context().maxPendingRegistrations(0).conclude());
        assertEquals("pending registrations need a positive cap and timeout: maxPendingRegistrations=0,"
                + " pendingRegistrationTimeoutNs=10000000000", e.getMessage());
    }

    private static Message.Register unsigned(int workerId) {
        return new Message.Register(workerId, 0, 1L, REPLY_STREAM, List.of("actor"), List.of(),
                List.of(new Message.MethodEntry("noop", "ONE_TO_ALL")), "h", "aeron:ipc", new byte[0]);
    }


}
