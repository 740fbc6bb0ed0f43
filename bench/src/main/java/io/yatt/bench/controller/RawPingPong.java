package io.yatt.bench.controller;

import io.aeron.Aeron;
import io.aeron.ExclusivePublication;
import io.aeron.Publication;
import io.aeron.Subscription;
import io.aeron.logbuffer.FragmentHandler;
import io.yatt.controller.ControlPlane;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.HdrHistogram.Histogram;
import org.agrona.CloseHelper;
import org.agrona.concurrent.BackoffIdleStrategy;
import org.agrona.concurrent.BusySpinIdleStrategy;
import org.agrona.concurrent.IdleStrategy;
import org.agrona.concurrent.UnsafeBuffer;
import org.agrona.concurrent.YieldingIdleStrategy;

/**
 * Raw Aeron ping-pong, the floor of a control-plane round trip: the ping offers one message to each of N pongs (one
 * exclusive publication each, stream {@code PING_STREAM_BASE + i}) and waits for N echoes on one reply stream; a pong
 * echoes what it receives. Nothing but aeron-client: no SBE, no payload codec, no futures.
 */
final class RawPingPong {

    /** Stream of pong 0; pong i listens on this plus i. */
    static final int PING_STREAM_BASE = 2001;
    /** Stream every pong replies on. */
    static final int REPLY_STREAM = 3001;

    private RawPingPong() {
    }

    /** Where pings and echoes travel: both ipc, or both udp on 127.0.0.1 (ping and reply ports). */
    record Channels(String ping, String reply) {

        static Channels ipc() {
            return new Channels("aeron:ipc", "aeron:ipc");
        }

        static Channels udp(int pingPort, int replyPort) {
            return new Channels("aeron:udp?endpoint=127.0.0.1:" + pingPort,
                    "aeron:udp?endpoint=127.0.0.1:" + replyPort);
        }
    }

    /**
     * The agrona strategy the control plane uses for {@code idle} (same parameters as its agents: back-off spins 10,
     * yields 20, then parks from 1 us up to 1 ms).
     */
    static IdleStrategy idleStrategy(ControlPlane.Idle idle) {
        return switch (idle) {
            case BUSY_SPIN -> new BusySpinIdleStrategy();
            case YIELDING -> new YieldingIdleStrategy();
            case BACKOFF -> new BackoffIdleStrategy(10, 20, TimeUnit.MICROSECONDS.toNanos(1),
                    TimeUnit.MILLISECONDS.toNanos(1));
        };
    }

    /** A pong on its own daemon thread until closed. */
    static final class Pong implements AutoCloseable {
        private final Subscription subscription;
        private final ExclusivePublication reply;
        private final Thread thread;
        private volatile boolean running = true;

        private Pong(Aeron aeron, Channels channels, int index, ControlPlane.Idle idle) {
            subscription = aeron.addSubscription(channels.ping(), PING_STREAM_BASE + index);
            reply = aeron.addExclusivePublication(channels.reply(), REPLY_STREAM);
            IdleStrategy strategy = idleStrategy(idle);
            FragmentHandler echo = (buffer, offset, length, header) -> {
                while (running && reply.offer(buffer, offset, length) < 0) {
                    Thread.onSpinWait();
                }
            };
            thread = new Thread(() -> {
                while (running) {
                    strategy.idle(subscription.poll(echo, 16));
                }
            }, "yatt-bench-pong-" + index);
            thread.setDaemon(true);
            thread.start();
        }

        @Override
        public void close() {
            running = false;
            try {
                thread.join(TimeUnit.SECONDS.toMillis(5));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            CloseHelper.quietCloseAll(subscription, reply);
        }
    }

    /** Starts pong {@code index} on {@code aeron}'s driver. */
    static Pong pong(Aeron aeron, Channels channels, int index, ControlPlane.Idle idle) {
        return new Pong(aeron, channels, index, idle);
    }

    /**
     * Round trips to pongs {@code 0..pongs-1}: {@code warmup} untimed, then {@code iterations} recorded in
     * nanoseconds.
     *
     * @throws IllegalStateException if the pongs do not connect or an echo does not come back within
     *         {@code timeoutNs}
     */
    static Histogram ping(Aeron aeron, Channels channels, int pongs, int payloadBytes, int warmup, int iterations,
                          ControlPlane.Idle idle, long timeoutNs) {
        List<ExclusivePublication> pubs = new ArrayList<>();
        Subscription replies = aeron.addSubscription(channels.reply(), REPLY_STREAM);
        try {
            for (int i = 0; i < pongs; i++) {
                pubs.add(aeron.addExclusivePublication(channels.ping(), PING_STREAM_BASE + i));
            }
            long deadlineNs = System.nanoTime() + timeoutNs;
            IdleStrategy strategy = idleStrategy(idle);
            while (!allConnected(pubs) || replies.imageCount() < pongs) {
                checkDeadline(deadlineNs, "raw pongs did not connect: pongs=" + pongs + ", connectedReplies="
                        + replies.imageCount() + ", channel=" + channels.ping());
                strategy.idle();
            }
            UnsafeBuffer payload = new UnsafeBuffer(new byte[payloadBytes]);
            int[] received = new int[1];
            FragmentHandler count = (buffer, offset, length, header) -> received[0]++;
            Histogram histogram = LatencyRow.newHistogram();
            for (int it = 0; it < warmup + iterations; it++) {
                long startNs = System.nanoTime();
                for (ExclusivePublication pub : pubs) {
                    long result;
                    while ((result = pub.offer(payload, 0, payloadBytes)) < 0) {
                        if (result == Publication.CLOSED || result == Publication.MAX_POSITION_EXCEEDED) {
                            throw new IllegalStateException("raw ping publication unusable: result=" + result);
                        }
                        checkDeadline(startNs + timeoutNs, "raw ping could not send: result=" + result);
                        Thread.onSpinWait();
                    }
                }
                received[0] = 0;
                strategy.reset();
                while (received[0] < pongs) {
                    int work = replies.poll(count, 16);
                    if (work == 0) {
                        checkDeadline(startNs + timeoutNs, "raw echoes missing: received=" + received[0]
                                + ", pongs=" + pongs);
                    }
                    strategy.idle(work);
                }
                long elapsedNs = System.nanoTime() - startNs;
                if (it >= warmup) {
                    histogram.recordValue(elapsedNs);
                }
            }
            return histogram;
        } finally {
            CloseHelper.quietCloseAll(pubs);
            CloseHelper.quietClose(replies);
        }
    }

    private static boolean allConnected(List<ExclusivePublication> pubs) {
        for (ExclusivePublication p : pubs) {
            if (!p.isConnected()) {
                return false;
            }
        }
        return true;
    }

    private static void checkDeadline(long deadlineNs, String message) {
        if (System.nanoTime() - deadlineNs > 0) {
            throw new IllegalStateException(message);
        }
    }
}
