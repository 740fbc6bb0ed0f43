package io.yatt.controller.internal.runtime;

import io.aeron.Subscription;
import io.yatt.controller.ControlPlane;
import io.yatt.controller.FrameStats;
import io.yatt.controller.internal.wire.FrameCounters;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import java.util.function.Predicate;
import org.agrona.ErrorHandler;
import org.agrona.concurrent.Agent;
import org.agrona.concurrent.AgentRunner;
import org.agrona.concurrent.IdleStrategy;

/** Channel helpers shared by the controller and the workers. */
public final class Endpoints {

    private Endpoints() {
    }

    /**
     * {@code channel} with a udp endpoint's port resolved (port 0 binds any free port); ipc channels as they are.
     *
     * @throws IllegalStateException if the endpoint is not bound within {@code timeoutNs}
     */
    public static String resolve(AeronTransport transport, Subscription subscription, String channel, long timeoutNs) {
        if (!channel.startsWith("aeron:udp")) {
            return channel;
        }
        long deadlineNs = System.nanoTime() + timeoutNs;
        while (true) {
            String resolved = subscription.tryResolveChannelEndpointPort();
            if (resolved != null) {
                return resolved;
            }
            if (System.nanoTime() - deadlineNs > 0) {
                throw new IllegalStateException("udp endpoint not bound: channel=" + channel + ", timeoutMs="
                        + TimeUnit.NANOSECONDS.toMillis(timeoutNs));
            }
            if (transport.invoke() == 0) {
                LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(1));
            }
        }
    }

    /** The agent idle strategy for {@code idle}. */
    public static IdleStrategy idle(ControlPlane.Idle idle) {
        return Idles.strategy(idle);
    }

    /** An agent runner's error handler that counts each error as an agent error in {@code counters} and prints it. */
    public static ErrorHandler countingErrors(FrameCounters counters) {
        return error -> {
            counters.agentError();
            error.printStackTrace();
        };
    }

    /**
     * A runner for {@code agent} with {@code idle}'s strategy that counts the agent's errors, and those of the
     * transport's client, as agent errors in {@code counters}; not started yet.
     */
    public static AgentRunner runner(AeronTransport transport, Agent agent, FrameCounters counters,
                                     ControlPlane.Idle idle) {
        transport.countErrors(counters);
        return new AgentRunner(idle(idle), countingErrors(counters), null, agent);
    }

    /** The frames an endpoint dropped so far, by reason, and its agent errors, as {@code counters} hold them now. */
    public static FrameStats stats(FrameCounters counters) {
        return new FrameStats(counters.malformedFrames(), counters.unauthenticatedFrames(), counters.droppedFrames(),
                counters.agentErrors());
    }

    /** Whether {@code host} names a loopback address (a name that does not resolve is not). */
    public static boolean isLoopback(String host) {
        return resolvesTo(host, InetAddress::isLoopbackAddress);
    }

    /**
     * Whether {@code host} is a wildcard address (0.0.0.0, ::): it listens everywhere and routes nowhere (a name that
     * does not resolve is not).
     */
    public static boolean isWildcard(String host) {
        return resolvesTo(host, InetAddress::isAnyLocalAddress);
    }

    private static boolean resolvesTo(String host, Predicate<InetAddress> test) {
        try {
            return test.test(InetAddress.getByName(host));
        } catch (UnknownHostException e) {
            return false;
        }
    }
}
