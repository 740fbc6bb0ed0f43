package io.yatt.controller.internal.runtime;

import io.aeron.Aeron;
import io.aeron.driver.MediaDriver;
import io.aeron.driver.ThreadingMode;
import io.yatt.controller.ControlPlane;
import io.yatt.controller.internal.wire.FrameCounters;
import java.io.File;
import java.util.Objects;
import java.util.concurrent.locks.ReentrantLock;
import org.agrona.CloseHelper;
import org.agrona.IoUtil;
import org.agrona.concurrent.Agent;
import org.agrona.concurrent.AgentInvoker;

/**
 * A media driver (embedded, in its own directory that is deleted on close, or when the JVM exits without a close) or
 * a connection to an external one, and the Aeron client on it. Thread-safe (Aeron's client is); closed once by its
 * owner.
 */
public final class AeronTransport implements AutoCloseable {

    /** Term length of every log: the largest message is an eighth of it (128 KiB). */
    public static final int TERM_BUFFER_BYTES = 1 << 20;

    private final MediaDriver driver;
    private final Aeron aeron;
    private final String directory;
    /**
     * Removes an embedded driver's directory when the JVM exits without closing the transport (SIGTERM from a launcher
     * such as Slurm or torchrun, or from yatt's own launch on a failed run); null for an external driver.
     */
    private final Thread exitCleanup;
    /**
     * The INVOKER driver's duty cycle under a lock, held while a thread runs it: the owning agent, the Aeron client
     * waiting for the driver on the agent's thread, or a caller that waits for an answer and drives the driver
     * meanwhile ({@link #invokeDriver}). Never waited for: a thread that finds it held leaves the work to its holder.
     * Null without an INVOKER driver.
     */
    private final LockedDriver lockedDriver;
    private volatile Thread owner;
    /** Where this client's errors are counted once its owner has counters (null until then: printed only). */
    private volatile FrameCounters errorCounters;

    private AeronTransport(MediaDriver driver, Aeron aeron, String directory, LockedDriver lockedDriver,
                           Thread exitCleanup) {
        this.driver = driver;
        this.exitCleanup = exitCleanup;
        this.lockedDriver = lockedDriver;
        this.aeron = aeron;
        this.directory = directory;
    }

    /**
     * A client on the driver running in {@code externalDirectory} if that is set, else on a new embedded driver in
     * {@code embeddedDirectory} (the choice the control plane's and the worker's contexts make).
     *
     * @throws io.aeron.exceptions.AeronException if the driver or the client does not start
     */
    public static AeronTransport open(String externalDirectory, String embeddedDirectory,
                                      ControlPlane.Threading threading, ControlPlane.Idle idle) {
        return externalDirectory != null
                ? external(externalDirectory, idle)
                : embedded(embeddedDirectory, threading, idle);
    }

    /**
     * Starts an embedded driver in {@code directory} (which must not be in use) and a client on it.
     *
     * @throws io.aeron.exceptions.AeronException if the driver or the client does not start
     */
    public static AeronTransport embedded(String directory, ControlPlane.Threading threading, ControlPlane.Idle idle) {
        Objects.requireNonNull(directory, "directory");
        MediaDriver.Context driverCtx = new MediaDriver.Context()
                .aeronDirectoryName(directory)
                .dirDeleteOnStart(true)
                .dirDeleteOnShutdown(true)
                .termBufferSparseFile(true)
                .ipcTermBufferLength(TERM_BUFFER_BYTES)
                .publicationTermBufferLength(TERM_BUFFER_BYTES)
                .threadingMode(switch (threading) {
                    case INVOKER -> ThreadingMode.INVOKER;
                    case SHARED -> ThreadingMode.SHARED;
                    case DEDICATED -> ThreadingMode.DEDICATED;
                })
                .sharedIdleStrategy(Idles.strategy(idle))
                .conductorIdleStrategy(Idles.strategy(idle))
                .senderIdleStrategy(Idles.strategy(idle))
                .receiverIdleStrategy(Idles.strategy(idle))
                .sharedNetworkIdleStrategy(Idles.strategy(idle));
        MediaDriver driver = MediaDriver.launch(driverCtx);
        String driverDirectory = driver.aeronDirectoryName();
        Thread exitCleanup = new Thread(() -> IoUtil.delete(new File(driverDirectory), true),
                "yatt-aeron-directory-cleanup");
        try {
            Aeron.Context clientCtx = new Aeron.Context()
                    .aeronDirectoryName(driver.aeronDirectoryName())
                    .idleStrategy(Idles.strategy(idle));
            AeronTransport[] self = new AeronTransport[1];
            clientCtx.errorHandler(error -> onClientError(self[0], error));
            LockedDriver lockedDriver = null;
            if (threading == ControlPlane.Threading.INVOKER) {
                // the client runs the driver while it waits for it (adding a publication): under the same lock
                lockedDriver = new LockedDriver(driver.sharedAgentInvoker(), new ReentrantLock());
                AgentInvoker forClient = new AgentInvoker(error -> onClientError(self[0], error), null,
                        lockedDriver);
                forClient.start();
                clientCtx.driverAgentInvoker(forClient).useConductorAgentInvoker(true);
            }
            self[0] = new AeronTransport(driver, Aeron.connect(clientCtx), driverDirectory, lockedDriver,
                    exitCleanup);
            Runtime.getRuntime().addShutdownHook(exitCleanup);
            return self[0];
        } catch (RuntimeException e) {
            CloseHelper.quietClose(driver);
            throw e;
        }
    }

    /**
     * Connects a client to the driver running in {@code directory}.
     *
     * @throws io.aeron.exceptions.DriverTimeoutException if no driver answers there
     */
    public static AeronTransport external(String directory, ControlPlane.Idle idle) {
        AeronTransport[] self = new AeronTransport[1];
        Aeron aeron = Aeron.connect(new Aeron.Context().aeronDirectoryName(directory)
                .errorHandler(error -> onClientError(self[0], error)).idleStrategy(Idles.strategy(idle)));
        self[0] = new AeronTransport(null, aeron, directory, null, null);
        return self[0];
    }

    /**
     * Aeron's default client error handler exits the JVM when the driver is lost; here the client closes instead and
     * its owner's agent sees {@link Aeron#isClosed()} (a worker then stops, see {@code Worker.awaitShutdown}).
     */
    private static void onClientError(AeronTransport transport, Throwable error) {
        FrameCounters counters = transport == null ? null : transport.errorCounters;
        if (counters != null) {
            counters.agentError();
        }
        System.err.println("yatt control plane: aeron client error: " + error);
    }

    /**
     * Counts this client's errors (among them exceptions that escaped a fragment handler, which Aeron hands to the
     * client's error handler) as agent errors in {@code counters}, as well as printing them.
     */
    public void countErrors(FrameCounters counters) {
        this.errorCounters = counters;
    }

    public Aeron aeron() {
        return aeron;
    }

    /**
     * Whether the owning agent must call {@link #invoke()} every duty cycle: the driver is embedded with INVOKER
     * threading, so neither it nor the client conductor has a thread of its own.
     */
    public boolean invoked() {
        return lockedDriver != null;
    }

    /**
     * Runs the client conductor and the driver once (INVOKER threading; nothing otherwise); the amount of work done.
     * Only from the owning agent's thread, or before it starts.
     */
    public int invoke() {
        if (lockedDriver == null) {
            return 0;
        }
        return aeron.conductorAgentInvoker().invoke() + invokeDriver();
    }

    /**
     * Runs the embedded INVOKER driver's duty cycle once on the calling thread, unless another thread is running it
     * right now; the work done (0 without an INVOKER driver). Any thread may call it: a caller that waits for an
     * answer over udp drives the driver's sender and receiver itself, so that the answer does not wait for the agent
     * thread's turn on a CPU. The client conductor stays with the owning agent ({@link #invoke()}).
     */
    public int invokeDriver() {
        return lockedDriver == null ? 0 : lockedDriver.doWork();
    }

    /** The driver's duty cycle under {@code lock}: for the agent, the Aeron client's own waits and waiting callers. */
    private record LockedDriver(AgentInvoker driver, ReentrantLock lock) implements Agent {
        @Override
        public int doWork() {
            if (!lock.tryLock()) {
                return 0;
            }
            try {
                return driver.invoke();
            } finally {
                lock.unlock();
            }
        }

        @Override
        public String roleName() {
            return "yatt-locked-driver";
        }
    }

    /** Makes the calling thread (the owning agent's, in its {@code onStart}) the one {@link #invokeIfOwner} runs on. */
    public void owner(Thread thread) {
        this.owner = thread;
    }

    /**
     * Runs {@link #invoke()} if called on the owner's thread: a send loop on the agent thread keeps the driver going
     * while it waits; other threads wait for the agent to do it.
     */
    public int invokeIfOwner() {
        return isOwner() ? invoke() : 0;
    }

    /** Whether the calling thread is the owner and the transport is {@link #invoked()}. */
    public boolean isOwner() {
        return lockedDriver != null && Thread.currentThread() == owner;
    }

    /** The driver's directory. */
    public String directory() {
        return directory;
    }

    /** Closes the client, then the embedded driver (which deletes its directory). */
    @Override
    public void close() {
        if (exitCleanup != null) {
            try {
                Runtime.getRuntime().removeShutdownHook(exitCleanup);
            } catch (IllegalStateException shuttingDown) {
                // closed by another shutdown hook: the directory goes either way
            }
        }
        if (lockedDriver == null) {
            CloseHelper.closeAll(aeron, driver);
            return;
        }
        // a caller may be running the driver's duty cycle: the driver closes between two of them
        lockedDriver.lock().lock();
        try {
            CloseHelper.closeAll(aeron, driver);
        } finally {
            lockedDriver.lock().unlock();
        }
    }
}
