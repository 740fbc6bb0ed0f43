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
import java.util.function.IntSupplier;
import org.HdrHistogram.Histogram;
import org.agrona.CloseHelper;
import org.agrona.concurrent.IdleStrategy;
import org.agrona.concurrent.UnsafeBuffer;

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

    /** A pong on its own daemon thread until closed. */
    static final class Pong implements AutoCloseable {
        private final Subscription subscription;
        private final ExclusivePublication reply;
        private final Thread thread;
        private volatile boolean running = true;

        private Pong(Aeron aeron, Channels channels, int index, ControlPlane.Idle idle) {
            subscription = aeron.addSubscription(channels.ping(), PING_STREAM_BASE + index);
            reply = aeron.addExclusivePublication(channels.reply(), REPLY_STREAM);
            IdleStrategy strategy = idle.newStrategy();
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

    /** The ping side: one exclusive publication per pong and the reply subscription, kept between blocks. */
    static final class Ping implements AutoCloseable {
        private final List<ExclusivePublication> pubs = new ArrayList<>();
        private final Subscription replies;
        private final int pongs;
        private final UnsafeBuffer payload;
        private final IdleStrategy strategy;
        private final long timeoutNs;
        private final int[] received = new int[1];
        private final FragmentHandler count = (buffer, offset, length, header) -> received[0]++;
        /** Runs an INVOKER driver while the ping waits (as the controller's caller does), or does nothing. */
        private final IntSupplier driver;

        private Ping(Aeron aeron, Channels channels, int pongs, int payloadBytes, ControlPlane.Idle idle,
                     long timeoutNs, IntSupplier driver) {
            this.pongs = pongs;
            this.driver = driver;
            this.payload = new UnsafeBuffer(new byte[payloadBytes]);
            this.strategy = idle.newStrategy();
            this.timeoutNs = timeoutNs;
            replies = aeron.addSubscription(channels.reply(), REPLY_STREAM);
            try {
                for (int i = 0; i < pongs; i++) {
                    pubs.add(aeron.addExclusivePublication(channels.ping(), PING_STREAM_BASE + i));
                }
                long deadlineNs = System.nanoTime() + timeoutNs;
                while (!allConnected(pubs) || replies.imageCount() < pongs) {
                    checkDeadline(deadlineNs, "raw pongs did not connect: pongs=" + pongs + ", connectedReplies="
                            + replies.imageCount() + ", channel=" + channels.ping());
                    strategy.idle();
                }
            } catch (RuntimeException e) {
                close();
                throw e;
            }
        }

        /**
         * {@code count} round trips, recorded in nanoseconds into {@code into} unless it is {@code null}.
         *
         * @throws IllegalStateException if an echo does not come back within the timeout or a publication closes
         */
        void run(int count, Histogram into) {
            int length = payload.capacity();
            for (int it = 0; it < count; it++) {
                long startNs = System.nanoTime();
                for (ExclusivePublication pub : pubs) {
                    long result;
                    while ((result = pub.offer(payload, 0, length)) < 0) {
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
                    int work = replies.poll(this.count, 16) + driver.getAsInt();
                    if (work == 0 && System.nanoTime() - (startNs + timeoutNs) > 0) {
                        // the message is built only when it is thrown: an empty poll must cost the ping nothing more
                        throw new IllegalStateException("raw echoes missing: received=" + received[0]
                                + ", pongs=" + pongs);
                    }
                    strategy.idle(work);
                }
                long elapsedNs = System.nanoTime() - startNs;
                if (into != null) {
                    into.recordValue(elapsedNs);
                }
            }
        }

        @Override
        public void close() {
            CloseHelper.quietCloseAll(pubs);
            CloseHelper.quietClose(replies);
        }
    }

    /**
     * Connects a ping to pongs {@code 0..pongs-1}; while it waits for echoes it runs {@code driver} (the plane's
     * {@code invokeDriver}, so that an INVOKER driver is run by the waiting thread on both paths alike).
     *
     * @throws IllegalStateException if the pongs do not connect within {@code timeoutNs}
     */
    static Ping ping(Aeron aeron, Channels channels, int pongs, int payloadBytes, ControlPlane.Idle idle,
                     long timeoutNs, IntSupplier driver) {
        return new Ping(aeron, channels, pongs, payloadBytes, idle, timeoutNs, driver);
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
