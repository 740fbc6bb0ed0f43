package io.yatt.controller;

import static io.yatt.controller.RawOffers.await;
import static io.yatt.controller.RawOffers.offer;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.aeron.Aeron;
import io.aeron.ExclusivePublication;
import io.aeron.Subscription;
import io.aeron.FragmentAssembler;
import io.yatt.controller.internal.wire.FrameDecoder;
import io.yatt.controller.internal.wire.FrameEncoder;
import io.yatt.controller.internal.wire.MalformedFrameException;
import io.yatt.controller.internal.wire.Message;
import io.yatt.controller.internal.wire.PayloadCodec;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * A worker joins a group only once its registration ack is on its stream. A worker drops every frame that comes before
 * its ack, so an invoke sent to a worker a caller found too early would never be answered (a call that hung for good).
 */
class RegistrationAckTest {

    private static final int REPLY_STREAM = 79_000;

    @Test
    void shouldFormNoGroupWithAWorkerUntilItsAckIsOnItsStream() throws Exception {
        ControlPlane.Context ctx = TestWorkers.context().sendTimeoutNs(TimeUnit.SECONDS.toNanos(20))
                .heartbeatTimeoutNs(TimeUnit.SECONDS.toNanos(2));
        try (TestWorkers cluster = new TestWorkers(ctx, 0);
             Aeron aeron = Aeron.connect(new Aeron.Context().aeronDirectoryName(cluster.plane.driverDirectory()));
             ExclusivePublication toController = aeron.addExclusivePublication(cluster.plane.endpoint(),
                     ControlPlane.CONTROL_STREAM_ID)) {
            FrameEncoder encoder = new FrameEncoder(PayloadCodec.builtIn());
            offer(toController, encoder.buffer(), encoder.encode(new Message.Register(9, 0, 1L, REPLY_STREAM,
                    List.of("actor"), List.of(), List.of(new Message.MethodEntry("noop", "ONE_TO_ALL")), "h",
                    "aeron:ipc", new byte[0])));
            // nobody reads the reply stream yet: the ack waits for a reader, and so does the worker's place in a group
            IllegalStateException early = assertThrows(IllegalStateException.class,
                    () -> cluster.plane.group("actor", 1, TimeUnit.MILLISECONDS.toNanos(500)));
            assertEquals("worker group incomplete: role=actor, size=1, registeredRanks=[], timeoutMs=500",
                    early.getMessage());

            try (Subscription replies = aeron.addSubscription("aeron:ipc", REPLY_STREAM)) {
                WorkerGroup group = cluster.plane.group("actor", 1, TimeUnit.SECONDS.toNanos(20));
                CompletableFuture<Object> call = group.callAsync("noop");
                FrameDecoder decoder = new FrameDecoder(PayloadCodec.builtIn());
                List<Message> received = new ArrayList<>();
                FragmentAssembler assembler = new FragmentAssembler((buffer, offset, length, header) -> {
                    try {
                        received.add(decoder.decode(buffer, offset, length));
                    } catch (MalformedFrameException e) {
                        throw new AssertionError("the controller sent a malformed frame", e);
                    }
                });
                await(() -> replies.poll(assembler, 10) >= 0
                        && received.stream().anyMatch(m -> m instanceof Message.Invoke));
                Message.RegisterAck ack = assertInstanceOf(Message.RegisterAck.class, received.get(0));
                assertEquals(Message.AckStatus.ACCEPTED, ack.status());
                assertEquals(9, ack.workerId());
                // this hand-made worker never heartbeats: the call fails when it is declared lost, as a real one's would
                ExecutionException lost = assertThrows(ExecutionException.class, () -> call.get(30, TimeUnit.SECONDS));
                assertInstanceOf(WorkerLostException.class, lost.getCause());
            }
        }
    }
}
