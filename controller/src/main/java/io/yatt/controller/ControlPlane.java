package io.yatt.controller;

import io.aeron.Subscription;
import io.yatt.controller.internal.runtime.AeronTransport;
import io.yatt.controller.internal.runtime.ControllerAgent;
import io.yatt.controller.internal.runtime.DataBatchPayloadType;
import io.yatt.controller.internal.runtime.Endpoints;
import io.yatt.controller.internal.runtime.WindowedBackoffIdleStrategy;
import io.yatt.controller.internal.runtime.WorkerSession;
import io.yatt.controller.internal.wire.Message;
import io.yatt.controller.internal.wire.PayloadCodec;
import io.yatt.tensor.Allocator;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import java.util.function.Function;
import org.agrona.CloseHelper;
import org.agrona.concurrent.AgentRunner;
import org.agrona.concurrent.BackoffIdleStrategy;
import org.agrona.concurrent.BusySpinIdleStrategy;
import org.agrona.concurrent.IdleStrategy;
import org.agrona.concurrent.YieldingIdleStrategy;

/**
 * The controller's end of the control plane: a media driver (embedded by default, in a per-job directory deleted on
 * close), the control stream workers register and answer on, and the agent that tracks their heartbeats. Worker
 * groups are formed from registered workers by role. Thread-safe; closed once by its owner.
 */
public final class ControlPlane implements AutoCloseable {

    /** Stream id of the control stream on the controller's channel. */
    public static final int CONTROL_STREAM_ID = 1001;
    /** Default heartbeat interval: 200 ms. */
    public static final long DEFAULT_HEARTBEAT_INTERVAL_NS = TimeUnit.MILLISECONDS.toNanos(200);
    /** Default heartbeat timeout: 1.5 s, so a dead worker is reported within 2 s. */
    public static final long DEFAULT_HEARTBEAT_TIMEOUT_NS = TimeUnit.MILLISECONDS.toNanos(1500);
    /** Default time a send may wait for back pressure or a connecting subscriber: 5 s. */
    public static final long DEFAULT_SEND_TIMEOUT_NS = TimeUnit.SECONDS.toNanos(5);

    /** The default call deadline: none ({@code Long.MAX_VALUE}); a generation step may legitimately take hours. */
    public static final long NO_CALL_TIMEOUT = Long.MAX_VALUE;
    /** Shortest shared secret accepted, in bytes. */
    public static final int MIN_SECRET_BYTES = 16;
    /** Default cap on registrations waiting for their answer to a challenge: 256. */
    public static final int DEFAULT_MAX_PENDING_REGISTRATIONS = 256;
    /** Default time a challenged registration may take to answer before it is forgotten: 10 s. */
    public static final long DEFAULT_PENDING_REGISTRATION_TIMEOUT_NS = TimeUnit.SECONDS.toNanos(10);

    /** How an embedded media driver runs its agents. */
    public enum Threading {
        /** No driver threads: the Aeron client's conductor runs the driver (tests, few threads). */
        INVOKER,
        /** One thread for all driver agents. */
        SHARED,
        /** A thread each for the driver's conductor, sender and receiver. */
        DEDICATED
    }

    /** What an agent with nothing to do does. */
    public enum Idle {
        /** Spin: lowest latency, one core per agent (benchmarks). */
        BUSY_SPIN,
        /** Yield the core between polls. */
        YIELDING,
        /** Spin, then yield, then park up to 1 ms: an idle agent does not burn a core (the default). */
        BACKOFF,
        /**
         * As {@link #BACKOFF}, but the yield phase lasts until {@link #YIELD_WINDOW_NS} have passed since the last work
         * instead of 20 yields: a thread alone on a core does not park in the middle of a round trip (whose wake-up
         * costs the timer slack and keeps the chain in a slow mode); an idle thread parks after the window.
         */
        WINDOWED_BACKOFF;

        /** A new agrona strategy for this choice (one per thread; the same parameters the plane's agents use). */
        public IdleStrategy newStrategy() {
            return switch (this) {
                case BUSY_SPIN -> new BusySpinIdleStrategy();
                case YIELDING -> new YieldingIdleStrategy();
                case BACKOFF -> new BackoffIdleStrategy(10, 20, TimeUnit.MICROSECONDS.toNanos(1),
                        BACKOFF_MAX_PARK_NS);
                case WINDOWED_BACKOFF -> new WindowedBackoffIdleStrategy(10, YIELD_WINDOW_NS,
                        TimeUnit.MICROSECONDS.toNanos(1), BACKOFF_MAX_PARK_NS);
            };
        }
    }

    /** Yield phase of {@link Idle#WINDOWED_BACKOFF}: time since the last work before a waiting thread parks. */
    public static final long YIELD_WINDOW_NS = TimeUnit.MICROSECONDS.toNanos(100);

    /** Longest park of the back-off strategy: an idle agent wakes at most 1000 times a second. */
    static final long BACKOFF_MAX_PARK_NS = TimeUnit.MILLISECONDS.toNanos(1);

    private final Context ctx;
    private final AeronTransport transport;
    private final ControllerAgent agent;
    private final AgentRunner runner;
    private final String channel;
    private final ControllerReferences references;
    private volatile long step;
    private boolean closed;

    private ControlPlane(Context ctx, AeronTransport transport, ControllerAgent agent, AgentRunner runner,
                         String channel) {
        this.ctx = ctx;
        this.transport = transport;
        this.agent = agent;
        this.runner = runner;
        this.channel = channel;
        this.references = new ControllerReferences(agent.controllerId(), ctx.allocator, transport.directory(),
                ctx.udpHost == null ? "127.0.0.1" : ctx.udpHost,
                Math.max(ctx.sendTimeoutNs, Worker.REFERENCE_FETCH_TIMEOUT_NS), ctx.sharedSecret);
    }

    /**
     * Starts the driver (unless external), the control stream and the controller agent.
     *
     * @throws IllegalArgumentException if the context is not valid (see {@link Context#conclude()})
     * @throws IllegalStateException if the udp endpoint does not bind within the send timeout
     */
    public static ControlPlane launch(Context ctx) {
        ctx.conclude();
        if (ctx.externalDriverDirectory == null) {
            Contexts.removeDeadDriverDirectories();
        }
        AeronTransport transport = AeronTransport.open(ctx.externalDriverDirectory, ctx.driverDirectory,
                ctx.threading, ctx.idle);
        AgentRunner runner = null;
        try {
            Subscription subscription = transport.aeron().addSubscription(ctx.channel(), CONTROL_STREAM_ID);
            String resolved = Endpoints.resolve(transport, subscription, ctx.channel(), ctx.sendTimeoutNs);
            ControllerAgent agent = new ControllerAgent(new SecureRandom().nextLong(), transport,
                    subscription, PayloadCodec.of(ctx.allPayloadTypes()), ctx.sharedSecret, ctx.heartbeatIntervalNs,
                    ctx.heartbeatTimeoutNs, ctx.sendTimeoutNs, ctx.callTimeoutNs, ctx.maxPendingRegistrations,
                    ctx.pendingRegistrationTimeoutNs, ctx.idle);
            runner = Endpoints.runner(transport, agent, agent.counters(), ctx.idle);
            AgentRunner.startOnThread(runner);
            return new ControlPlane(ctx, transport, agent, runner, resolved);
        } catch (RuntimeException e) {
            CloseHelper.quietCloseAll(runner, transport);
            throw e;
        }
    }

    /** The channel workers register on (with the port resolved for udp), on stream {@link #CONTROL_STREAM_ID}. */
    public String endpoint() {
        return channel;
    }

    /**
     * What a launcher on this host puts in a worker process's environment so that
     * {@link Worker.Context#fromEnvironment} connects it to this controller through this driver.
     */
    public Map<String, String> localWorkerEnvironment() {
        return Map.of(Worker.ENV_CONTROLLER, channel, Worker.ENV_DRIVER_DIR, transport.directory());
    }

    /** The media driver's directory (workers in this JVM or on this host may connect to it). */
    public String driverDirectory() {
        return transport.directory();
    }

    /** This controller's random id, carried by every invoke. */
    public long controllerId() {
        return agent.controllerId();
    }

    /** This controller as a peer of a {@link ControllerMesh}: its endpoint, id, process id and host. */
    public ControllerMesh.Peer peer() {
        return new ControllerMesh.Peer(channel, agent.controllerId(), ProcessHandle.current().pid(), ctx.host);
    }

    /** The concluded settings (the mesh's heartbeats take theirs from here). */
    Context context() {
        return ctx;
    }

    ControllerAgent agent() {
        return agent;
    }

    /** The tensors this controller keeps for its calls' arguments (above the inline limit). */
    ControllerReferences references() {
        return references;
    }

    /**
     * Regions this controller keeps for the large tensors of its calls' arguments: {@code [live, freed]} (live until
     * their last consumer pulled them, or the step they were sent in ends).
     */
    public long[] argumentReferences() {
        return new long[] {references.liveCount(), references.freedCount()};
    }

    /** The step number carried by invokes from now on. */
    public void step(long step) {
        this.step = step;
    }

    long currentStep() {
        return step;
    }

    /** Frames dropped so far, by reason. */
    public FrameStats stats() {
        return Endpoints.stats(agent.counters());
    }

    /**
     * Registrations not yet accepted: challenged and waiting for their answer (at most
     * {@link Context#maxPendingRegistrations()}, each for at most {@link Context#pendingRegistrationTimeoutNs()}).
     */
    public int pendingRegistrations() {
        return agent.pendingRegistrations();
    }

    /**
     * Under {@link Threading#INVOKER}, runs the embedded driver's duty cycle once on the calling thread unless another
     * thread is running it right now; the work done (0 with any other threading or an external driver).
     * {@link #await} does this while it waits, so that over udp the caller's own thread carries its invoke and the
     * answer through the driver; a thread that waits for other Aeron traffic on this plane's driver (a benchmark's
     * raw ping-pong) can do the same.
     */
    public int invokeDriver() {
        return transport.invokeDriver();
    }

    /**
     * Waits for a call's future (from {@link WorkerGroup#callAsync}) as {@link WorkerGroup#call} does: the calling
     * thread reads the answers off the control stream itself, with the plane's idle strategy (spinning or yielding
     * until the call completes; with {@link Idle#BACKOFF} or {@link Idle#WINDOWED_BACKOFF}, for up to a millisecond
     * before it parks on the future).
     *
     * @return the call's result
     * @throws WorkerCallException if the method threw on a worker (and the other exceptions {@link WorkerGroup#call}
     *         lists)
     * @throws IllegalStateException if the call did not complete within {@code timeoutNs}
     *         ({@code call not completed: timeoutMs=...}; the call goes on) or the thread was interrupted
     */
    public <T> T await(CompletableFuture<T> future, long timeoutNs) {
        try {
            return agent.await(future, timeoutNs);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted waiting for a call", e);
        } catch (java.util.concurrent.TimeoutException e) {
            throw new IllegalStateException("call not completed: timeoutMs=" + TimeUnit.NANOSECONDS.toMillis(timeoutNs));
        } catch (java.util.concurrent.ExecutionException e) {
            if (e.getCause() instanceof RuntimeException re) {
                throw re;
            }
            throw new IllegalStateException("call failed: " + e.getCause(), e.getCause());
        }
    }

    /** Cancels this controller could not send yet and retries (for tests: zero once they have all gone). */
    int unsentCancels() {
        return agent.unsentCancels();
    }

    /** Payload bytes this controller encoded and decoded so far. */
    public PayloadStats payloadStats() {
        return new PayloadStats(agent.payloads().encodedBytes(), agent.payloads().decodedBytes());
    }

    /**
     * The group of the {@code size} workers registered with {@code role}, ranks 0 to size - 1, waiting up to
     * {@code timeoutNs} for them to register.
     *
     * @throws IllegalStateException if they have not all registered in time (naming the ranks that have), two
     *         workers declare the same method with different dispatch modes, or they do not serve the same methods
     * @throws IllegalArgumentException if size is not positive
     */
    public WorkerGroup group(String role, int size, long timeoutNs) {
        if (size < 1) {
            throw new IllegalArgumentException("group size must be positive: role=" + role + ", size=" + size);
        }
        long deadlineNs = System.nanoTime() + timeoutNs;
        while (true) {
            List<WorkerSession> members = new ArrayList<>();
            for (WorkerSession s : agent.workers()) {
                if (s.lost() == null && s.registration().roles().contains(role)) {
                    members.add(s);
                }
            }
            members.sort(Comparator.comparingInt(s -> s.registration().rank()));
            boolean complete = members.size() == size;
            for (int i = 0; complete && i < size; i++) {
                complete = members.get(i).registration().rank() == i;
            }
            if (complete) {
                return newGroup(role, members);
            }
            if (Thread.currentThread().isInterrupted()) {
                // the interrupt stays set for the caller (a launcher that saw a worker process exit interrupts this)
                throw new IllegalStateException("interrupted while forming a worker group: role=" + role + ", size="
                        + size + ", registeredRanks=" + members.stream().map(s -> s.registration().rank()).toList());
            }
            if (System.nanoTime() - deadlineNs > 0) {
                throw new IllegalStateException("worker group incomplete: role=" + role + ", size=" + size
                        + ", registeredRanks=" + members.stream().map(s -> s.registration().rank()).toList()
                        + ", timeoutMs=" + TimeUnit.NANOSECONDS.toMillis(timeoutNs));
            }
            LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(1));
        }
    }

    private WorkerGroup newGroup(String role, List<WorkerSession> members) {
        Map<String, String> methods = new HashMap<>();
        List<GroupTopology.WorkerInfo> infos = new ArrayList<>();
        for (WorkerSession s : members) {
            Message.Register r = s.registration();
            for (Message.MethodEntry m : r.methods()) {
                String previous = methods.putIfAbsent(m.name(), m.dispatchMode());
                if (previous != null && !previous.equals(m.dispatchMode())) {
                    throw new IllegalStateException("workers disagree on a dispatch mode: role=" + role + ", method="
                            + m.name() + ", modes=" + previous + "," + m.dispatchMode());
                }
            }
            Map<String, GroupTopology.MeshRank> meshes = new HashMap<>();
            for (Message.MeshRegistration mesh : r.meshes()) {
                meshes.put(mesh.meshName(), new GroupTopology.MeshRank(mesh.dpRank(), mesh.dpSize(), mesh.collect()));
            }
            infos.add(new GroupTopology.WorkerInfo(r.rank(), meshes));
        }
        for (WorkerSession s : members) {
            List<String> served = s.registration().methods().stream().map(Message.MethodEntry::name).sorted()
                    .toList();
            if (!served.equals(methods.keySet().stream().sorted().toList())) {
                throw new IllegalStateException("workers of a group must serve the same methods: role=" + role
                        + ", rank=" + s.registration().rank() + ", methods=" + served + ", group="
                        + methods.keySet().stream().sorted().toList());
            }
        }
        return new WorkerGroup(this, agent, role, members.toArray(WorkerSession[]::new), new GroupTopology(infos),
                methods, ctx::resolveDispatch);
    }

    /**
     * Tells every live worker to abort its calls in flight and fails every call in flight here with
     * {@link java.util.concurrent.CancellationException}.
     */
    public void abort(String reason) {
        agent.abort(reason, new java.util.concurrent.CancellationException("aborted: reason=" + reason));
    }

    /**
     * Tells the plane that a process of this host exited (its launcher saw it, for example through {@link
     * Process#onExit()}): every worker that registered from it is lost at the next liveness check, a quarter of the
     * heartbeat interval later, as when its heartbeat timeout passes (calls in flight on it fail with {@link
     * WorkerLostException}, its peers' collectives are aborted), instead of after the timeout. A pid of no worker is
     * ignored. Any thread.
     */
    public void processExited(long pid) {
        agent.processExited(pid, Contexts.localHostName());
    }

    /**
     * Removes the embedded media drivers' directories that process {@code pid} of this host left, for a launcher that
     * knows the process has exited (it reaped it): a directory of a driver that died a moment ago still looks alive to
     * the sweep every plane and worker runs when it starts and closes, until its heartbeat is 10 s old. Nothing is
     * removed while a process of that pid is alive. Best effort.
     *
     * @return how many directories were removed
     */
    public static int removeDriverDirectoriesOf(long pid) {
        return Contexts.removeDriverDirectoriesOf(pid).size();
    }

    /** Asks every live worker to stop (their {@link Worker#awaitShutdown} returns). */
    public void shutdownWorkers(String reason) {
        agent.shutdownWorkers(reason);
    }

    /**
     * Sends shutdown to every live worker, stops the agent (failing calls in flight), closes the client and the
     * embedded driver, whose directory is deleted.
     *
     * @throws IllegalStateException if already closed
     */
    @Override
    public synchronized void close() {
        if (closed) {
            throw new IllegalStateException("control plane already closed: controllerId=" + agent.controllerId());
        }
        closed = true;
        try {
            agent.shutdownWorkers("control plane closing");
        } finally {
            CloseHelper.closeAll(references, runner, transport);
            // the directories of this host's yatt processes that died (a worker, a peer controller) go too
            Contexts.removeDeadDriverDirectories();
        }
    }

    /**
     * Settings of a control plane, with fluent accessors; validated once by {@link #conclude()}. Confined to the
     * configuring thread.
     */
    public static final class Context {

        private Threading threading = Threading.SHARED;
        private Idle idle = Idle.BACKOFF;
        private String driverDirectory;
        private String externalDriverDirectory;
        private String udpHost;
        private int udpPort;
        private byte[] sharedSecret;
        private long heartbeatIntervalNs = DEFAULT_HEARTBEAT_INTERVAL_NS;
        private long heartbeatTimeoutNs = DEFAULT_HEARTBEAT_TIMEOUT_NS;
        private long peerHeartbeatIntervalNs;
        private long peerHeartbeatTimeoutNs;
        private String host;
        private long sendTimeoutNs = DEFAULT_SEND_TIMEOUT_NS;
        private long callTimeoutNs = NO_CALL_TIMEOUT;
        private int maxPendingRegistrations = DEFAULT_MAX_PENDING_REGISTRATIONS;
        private long pendingRegistrationTimeoutNs = DEFAULT_PENDING_REGISTRATION_TIMEOUT_NS;
        private List<PayloadType<?>> payloadTypes = List.of();
        private Function<String, Dispatch> dispatchModes;
        private final Map<String, Dispatch> customDispatch = new LinkedHashMap<>();
        private Allocator allocator;
        private long inlineLimitBytes = TensorRef.DEFAULT_INLINE_LIMIT_BYTES;
        private String jobName = "job";

        /** Threading of the embedded driver (default SHARED; INVOKER in tests). */
        public Context threading(Threading threading) {
            this.threading = Objects.requireNonNull(threading, "threading");
            return this;
        }

        public Threading threading() {
            return threading;
        }

        /** Idle strategy of the agents and the embedded driver (default BACKOFF). */
        public Context idle(Idle idle) {
            this.idle = Objects.requireNonNull(idle, "idle");
            return this;
        }

        public Idle idle() {
            return idle;
        }

        /** Name used in the embedded driver's directory (default {@code job}). */
        public Context jobName(String jobName) {
            this.jobName = jobName;
            return this;
        }

        public String jobName() {
            return jobName;
        }

        /** Directory of the embedded driver; default: Aeron's default directory plus the job name and a random id. */
        public Context driverDirectory(String directory) {
            this.driverDirectory = directory;
            return this;
        }

        public String driverDirectory() {
            return driverDirectory;
        }

        /** Use the driver already running in {@code directory} instead of an embedded one. */
        public Context externalDriverDirectory(String directory) {
            this.externalDriverDirectory = directory;
            return this;
        }

        public String externalDriverDirectory() {
            return externalDriverDirectory;
        }

        /** Workers reach the controller over {@code aeron:ipc} (the default: one host). */
        public Context ipc() {
            this.udpHost = null;
            this.udpPort = 0;
            return this;
        }

        /** Workers reach the controller over {@code aeron:udp} at {@code host:port} (port 0: any free port). */
        public Context udp(String host, int port) {
            this.udpHost = Objects.requireNonNull(host, "host");
            this.udpPort = port;
            return this;
        }

        /** The channel as configured (the port may still be 0; {@link ControlPlane#endpoint()} is resolved). */
        public String channel() {
            return udpHost == null ? "aeron:ipc" : "aeron:udp?endpoint=" + udpHost + ":" + udpPort;
        }

        /** Secret shared with the workers; registrations must carry the HMAC of the controller's nonce under it. */
        public Context sharedSecret(byte[] secret) {
            this.sharedSecret = secret == null ? null : secret.clone();
            return this;
        }

        /**
         * Most registrations that may wait for their answer to a challenge at a time (default
         * {@value #DEFAULT_MAX_PENDING_REGISTRATIONS}); a registration from a new session beyond it is dropped and
         * counted as unauthenticated.
         */
        public Context maxPendingRegistrations(int max) {
            this.maxPendingRegistrations = max;
            return this;
        }

        public int maxPendingRegistrations() {
            return maxPendingRegistrations;
        }

        /**
         * How long a challenged registration may take to answer (default 10 s); then its nonce is forgotten and the
         * publication to its reply channel closed.
         */
        public Context pendingRegistrationTimeoutNs(long timeoutNs) {
            this.pendingRegistrationTimeoutNs = timeoutNs;
            return this;
        }

        public long pendingRegistrationTimeoutNs() {
            return pendingRegistrationTimeoutNs;
        }

        public Context heartbeatIntervalNs(long intervalNs) {
            this.heartbeatIntervalNs = intervalNs;
            return this;
        }

        public long heartbeatIntervalNs() {
            return heartbeatIntervalNs;
        }

        /** A worker silent for longer than this is lost: its calls fail with {@link WorkerLostException}. */
        public Context heartbeatTimeoutNs(long timeoutNs) {
            this.heartbeatTimeoutNs = timeoutNs;
            return this;
        }

        public long heartbeatTimeoutNs() {
            return heartbeatTimeoutNs;
        }

        /**
         * How often this controller heartbeats the other controllers of its {@link ControllerMesh} (default, or 0:
         * {@link #heartbeatIntervalNs()}, filled in by {@link #conclude()}).
         */
        public Context peerHeartbeatIntervalNs(long intervalNs) {
            this.peerHeartbeatIntervalNs = intervalNs;
            return this;
        }

        public long peerHeartbeatIntervalNs() {
            return peerHeartbeatIntervalNs;
        }

        /**
         * Another controller of the mesh silent for longer than this is lost: this controller's barriers, reductions
         * and calls in flight fail with {@link ControllerLostException} (default, or 0: {@link #heartbeatTimeoutNs()},
         * filled in by {@link #conclude()}).
         */
        public Context peerHeartbeatTimeoutNs(long timeoutNs) {
            this.peerHeartbeatTimeoutNs = timeoutNs;
            return this;
        }

        public long peerHeartbeatTimeoutNs() {
            return peerHeartbeatTimeoutNs;
        }

        /** Host name this controller gives the other controllers of its mesh (default: the local host name). */
        public Context host(String host) {
            this.host = Objects.requireNonNull(host, "host");
            return this;
        }

        public String host() {
            return host;
        }

        public Context sendTimeoutNs(long timeoutNs) {
            this.sendTimeoutNs = timeoutNs;
            return this;
        }

        public long sendTimeoutNs() {
            return sendTimeoutNs;
        }

        /**
         * How long a call may run, from when its workers are sent their arguments, before it fails with
         * {@link CallTimeoutException} naming the workers that have not answered (which are then aborted); it
         * catches a method that hangs on a worker that still heartbeats. Default {@link #NO_CALL_TIMEOUT}.
         */
        public Context callTimeoutNs(long timeoutNs) {
            this.callTimeoutNs = timeoutNs;
            return this;
        }

        public long callTimeoutNs() {
            return callTimeoutNs;
        }

        /** Value types carried besides the built-in ones; workers must register the same. */
        public Context payloadTypes(List<PayloadType<?>> types) {
            this.payloadTypes = List.copyOf(types);
            return this;
        }

        /**
         * Resolves the dispatch mode names workers declare that are neither registered with {@link #dispatch} nor
         * built in (default: only the built-in modes of {@link DispatchModes}, {@link DispatchModes#byName}).
         */
        public Context dispatchModes(Function<String, Dispatch> resolver) {
            this.dispatchModes = Objects.requireNonNull(resolver, "dispatchModes");
            return this;
        }

        /**
         * Registers a custom dispatch mode under its {@link Dispatch#name()}: workers declaring that name are
         * dispatched with it.
         *
         * @throws IllegalArgumentException if a mode of that name is registered already or the name is a built-in
         *         mode's
         */
        public Context dispatch(Dispatch mode) {
            Objects.requireNonNull(mode, "mode");
            String name = mode.name();
            boolean builtIn;
            try {
                DispatchModes.byName(name);
                builtIn = true;
            } catch (IllegalArgumentException e) {
                builtIn = false;
            }
            if (builtIn) {
                throw new IllegalArgumentException("dispatch mode name is built in: name=" + name);
            }
            if (customDispatch.putIfAbsent(name, mode) != null) {
                throw new IllegalArgumentException("dispatch mode registered twice: name=" + name);
            }
            return this;
        }

        /**
         * The dispatch mode named {@code name}: a registered custom mode, then a built-in one, then the resolver.
         *
         * @throws IllegalArgumentException if no mode has the name
         */
        public Dispatch resolveDispatch(String name) {
            Dispatch custom = customDispatch.get(name);
            if (custom != null) {
                return custom;
            }
            try {
                return DispatchModes.byName(name);
            } catch (IllegalArgumentException e) {
                if (dispatchModes == null) {
                    throw new IllegalArgumentException(e.getMessage() + " or a registered mode "
                            + customDispatch.keySet());
                }
                return dispatchModes.apply(name);
            }
        }

        /**
         * The allocator DataBatch results decoded here allocate from (default: a root allocator of this control
         * plane, {@code controller-<jobName>}).
         */
        public Context allocator(Allocator allocator) {
            this.allocator = Objects.requireNonNull(allocator, "allocator");
            return this;
        }

        public Allocator allocator() {
            return allocator;
        }

        /**
         * Largest tensor of a DataBatch argument the controller sends inline (default
         * {@link TensorRef#DEFAULT_INLINE_LIMIT_BYTES}); a larger one, of a batch that is an argument or is nested at
         * any depth of an argument's lists and maps, travels by reference: the controller keeps a copy until the
         * workers of the call have pulled it (or the step ends) and the batch carries a reference column in its place.
         */
        public Context inlineLimitBytes(long limitBytes) {
            this.inlineLimitBytes = limitBytes;
            return this;
        }

        public long inlineLimitBytes() {
            return inlineLimitBytes;
        }

        /** The registered payload types plus DataBatch (unless one of them maps it), as the codec uses them. */
        List<PayloadType<?>> allPayloadTypes() {
            return DataBatchPayloadType.withDefault(payloadTypes, allocator, inlineLimitBytes);
        }

        /**
         * Checks the settings and fills defaults (the embedded driver's directory, the peer heartbeats, the host).
         *
         * @throws IllegalArgumentException if a timeout or interval is not positive, a heartbeat timeout (workers' or
         *         peers') is not longer than its interval, the pending-registration cap is not positive, the port is
         *         out of range, the inline limit is negative, the secret is shorter than {@link #MIN_SECRET_BYTES}, the
         *         udp host is a wildcard address, or a udp endpoint beyond loopback has no shared secret
         */
        public Context conclude() {
            if (heartbeatIntervalNs <= 0 || heartbeatTimeoutNs <= heartbeatIntervalNs) {
                throw new IllegalArgumentException("heartbeat timeout must exceed a positive interval:"
                        + " heartbeatIntervalNs=" + heartbeatIntervalNs + ", heartbeatTimeoutNs="
                        + heartbeatTimeoutNs);
            }
            if (peerHeartbeatIntervalNs == 0) {
                peerHeartbeatIntervalNs = heartbeatIntervalNs;
            }
            if (peerHeartbeatTimeoutNs == 0) {
                peerHeartbeatTimeoutNs = heartbeatTimeoutNs;
            }
            if (peerHeartbeatIntervalNs <= 0 || peerHeartbeatTimeoutNs <= peerHeartbeatIntervalNs) {
                throw new IllegalArgumentException("peer heartbeat timeout must exceed a positive interval:"
                        + " peerHeartbeatIntervalNs=" + peerHeartbeatIntervalNs + ", peerHeartbeatTimeoutNs="
                        + peerHeartbeatTimeoutNs);
            }
            if (host == null) {
                host = Contexts.localHostName();
            }
            if (sendTimeoutNs <= 0) {
                throw new IllegalArgumentException("send timeout must be positive: sendTimeoutNs=" + sendTimeoutNs);
            }
            if (callTimeoutNs <= 0) {
                throw new IllegalArgumentException("call timeout must be positive: callTimeoutNs=" + callTimeoutNs);
            }
            if (maxPendingRegistrations <= 0 || pendingRegistrationTimeoutNs <= 0) {
                throw new IllegalArgumentException("pending registrations need a positive cap and timeout:"
                        + " maxPendingRegistrations=" + maxPendingRegistrations + ", pendingRegistrationTimeoutNs="
                        + pendingRegistrationTimeoutNs);
            }
            Contexts.requireInlineLimit(inlineLimitBytes);
            if (udpPort < 0 || udpPort > 65535) {
                throw new IllegalArgumentException("udp port out of range: port=" + udpPort + ", expected=0..65535");
            }
            Contexts.requireSecretLength(sharedSecret);
            if (udpHost != null && Endpoints.isWildcard(udpHost)) {
                // the endpoint is published through the store as is: workers elsewhere cannot reach a wildcard
                throw new IllegalArgumentException("udp endpoint host is a wildcard address: host=" + udpHost
                        + ", expected=a routable host or address of this node that workers can reach");
            }
            if (udpHost != null && sharedSecret == null && !Endpoints.isLoopback(udpHost)) {
                throw new IllegalArgumentException("a udp endpoint beyond loopback requires a shared secret: host="
                        + udpHost);
            }
            if (jobName == null || !jobName.matches("[A-Za-z0-9_.-]+")) {
                throw new IllegalArgumentException("job name must be letters, digits, '_', '.' or '-': jobName="
                        + jobName);
            }
            if (allocator == null) {
                allocator = Allocator.root("controller-" + jobName);
            }
            PayloadCodec.of(allPayloadTypes());
            if (externalDriverDirectory == null && driverDirectory == null) {
                driverDirectory = Contexts.embeddedDriverDirectory(jobName);
            }
            return this;
        }
    }
}
