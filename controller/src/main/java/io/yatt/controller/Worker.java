package io.yatt.controller;

import io.aeron.ExclusivePublication;
import io.aeron.Subscription;
import io.yatt.controller.internal.runtime.AeronTransport;
import io.yatt.controller.internal.runtime.DataBatchPayloadType;
import io.yatt.controller.internal.runtime.Endpoints;
import io.yatt.controller.internal.runtime.WorkerAgent;
import io.yatt.controller.internal.runtime.WorkerChannels;
import io.yatt.controller.internal.wire.ControllerProxy;
import io.yatt.controller.internal.wire.Message;
import io.yatt.controller.internal.wire.PayloadCodec;
import io.yatt.collectives.Communicator;
import io.yatt.collectives.Communicators;
import io.yatt.collectives.SharedMemory;
import io.yatt.tensor.Allocator;
import io.yatt.tensor.Device;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.TreeMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.agrona.CloseHelper;
import org.agrona.concurrent.AgentRunner;

/**
 * A worker's end of the control plane: registers with the controller (roles, rank, meshes, its method table),
 * heartbeats, and runs the invokes it receives, one at a time in arrival order, on its own executor thread so that
 * heartbeats continue while a method runs. Thread-safe; closed once by its owner.
 */
public final class Worker implements AutoCloseable {

    /** Environment variable a launcher sets to the controller's channel ({@link ControlPlane#endpoint()}). */
    public static final String ENV_CONTROLLER = "YATT_CONTROLLER_CHANNEL";
    /** Environment variable a launcher on the controller's host sets to the controller's driver directory. */
    public static final String ENV_DRIVER_DIR = "YATT_AERON_DIR";
    /** Environment variable with the worker id; {@code RANK} when absent. */
    public static final String ENV_WORKER_ID = "YATT_WORKER_ID";
    /** Environment variable with the rank (torchrun's name, as the shm launcher sets it). */
    public static final String ENV_RANK = "RANK";
    /**
     * Environment variable with the device the worker's process is bound to ({@code host} or {@code cuda:N}), as
     * {@link WorkerProcesses} sets it from the worker's {@link ResourcePool.Slot}; the host when absent.
     */
    public static final String ENV_DEVICE = "YATT_DEVICE";

    /** Default time a worker waits without hearing from its controller before it counts it as lost: 10 s. */
    public static final long DEFAULT_CONTROLLER_TIMEOUT_NS = TimeUnit.SECONDS.toNanos(10);

    /** Default time to wait for the controller to accept the registration: 10 s. */
    public static final long DEFAULT_REGISTRATION_TIMEOUT_NS = TimeUnit.SECONDS.toNanos(10);

    /** The least time a fetch of referenced rows from a worker in another process may take: 30 s. */
    static final long REFERENCE_FETCH_TIMEOUT_NS = TimeUnit.SECONDS.toNanos(30);

    private final Context ctx;
    private final AeronTransport transport;
    private final WorkerAgent agent;
    private final AgentRunner runner;
    private final ExecutorService executor;
    private boolean closed;

    private Worker(Context ctx, AeronTransport transport, WorkerAgent agent, AgentRunner runner,
                   ExecutorService executor) {
        this.ctx = ctx;
        this.transport = transport;
        this.agent = agent;
        this.runner = runner;
        this.executor = executor;
    }

    /**
     * Connects, registers and returns once the controller accepted the registration.
     *
     * @throws IllegalArgumentException if the context is not valid (see {@link Context#conclude()})
     * @throws IllegalStateException if the controller refused the registration (naming its reason) or did not
     *         answer within the registration timeout
     */
    public static Worker start(Context ctx) {
        ctx.conclude();
        if (ctx.externalDriverDirectory == null) {
            Contexts.removeDeadDriverDirectories();
        }
        AeronTransport transport = AeronTransport.open(ctx.externalDriverDirectory, ctx.driverDirectory,
                ctx.threading, ctx.idle);
        ExecutorService executor = Executors.newSingleThreadExecutor(r -> {
            Thread t = new Thread(r, "yatt-worker-" + ctx.workerId + "-calls");
            t.setDaemon(true);
            return t;
        });
        AgentRunner runner = null;
        try {
            String replyChannel = WorkerChannels.replyChannel(ctx.controllerChannel, ctx.replyHost);
            int replyStreamId = WorkerChannels.replyStreamId(ctx.workerId);
            Subscription subscription = transport.aeron().addSubscription(replyChannel, replyStreamId);
            String resolvedReply = Endpoints.resolve(transport, subscription, replyChannel, ctx.sendTimeoutNs);
            ExclusivePublication toController = transport.aeron().addExclusivePublication(ctx.controllerChannel,
                    ControlPlane.CONTROL_STREAM_ID);
            PayloadCodec payloads = PayloadCodec.of(
                    DataBatchPayloadType.withDefault(ctx.payloadTypes, ctx.allocator, ctx.inlineLimitBytes));
            ControllerProxy proxy = WorkerChannels.proxy(transport, payloads, toController, ctx.sendTimeoutNs);
            List<Message.MeshRegistration> meshes = new ArrayList<>();
            for (Map.Entry<String, GroupTopology.MeshRank> e : new TreeMap<>(ctx.meshes).entrySet()) {
                meshes.add(new Message.MeshRegistration(e.getKey(), e.getValue().dpRank(), e.getValue().dpSize(),
                        e.getValue().collect()));
            }
            List<Message.MethodEntry> methods = new ArrayList<>();
            for (String name : ctx.methods.names()) {
                methods.add(new Message.MethodEntry(name, ctx.methods.dispatchMode(name),
                        Optional.of(Message.MethodSignature.of(ctx.methods.type(name)))));
            }
            Message.Register registration = new Message.Register(ctx.workerId, ctx.rank, ctx.pid, replyStreamId,
                    ctx.roles, meshes, methods, ctx.host, resolvedReply, new byte[0]);
            WorkerAgent agent = new WorkerAgent(transport, registration, subscription, proxy, toController,
                    ctx.sendTimeoutNs, payloads, ctx.methods,
                    ctx.sharedSecret, executor, ctx.allocator, ctx.inlineLimitBytes,
                    ctx.controllerTimeoutNs);
            for (Communicator c : ctx.communicators) {
                agent.register(c);
            }
            // references live in the first shm world's arena: its consumers of that world copy them in place
            for (Communicator c : ctx.communicators) {
                Optional<SharedMemory> shared = Communicators.sharedMemory(c);
                if (shared.isPresent()) {
                    agent.sharedMemory(shared.get());
                    break;
                }
            }
            agent.referencePlane(ctx.replyHost, Math.max(ctx.sendTimeoutNs, REFERENCE_FETCH_TIMEOUT_NS));
            runner = Endpoints.runner(transport, agent, agent.counters(), ctx.idle);
            AgentRunner.startOnThread(runner);
            try {
                agent.registered().get(ctx.registrationTimeoutNs, TimeUnit.NANOSECONDS);
            } catch (ExecutionException e) {
                throw e.getCause() instanceof RuntimeException re ? re
                        : new IllegalStateException("registration failed: workerId=" + ctx.workerId, e.getCause());
            } catch (TimeoutException e) {
                String note = agent.registrationNote();
                throw new IllegalStateException("registration not answered: workerId=" + ctx.workerId
                        + ", controller=" + ctx.controllerChannel + ", timeoutMs="
                        + TimeUnit.NANOSECONDS.toMillis(ctx.registrationTimeoutNs)
                        + (note == null ? "" : ", reason=" + note));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException("interrupted while registering: workerId=" + ctx.workerId, e);
            }
            return new Worker(ctx, transport, agent, runner, executor);
        } catch (RuntimeException e) {
            CloseHelper.quietCloseAll(runner, transport);
            executor.shutdownNow();
            throw e;
        }
    }

    public int workerId() {
        return ctx.workerId;
    }

    public int rank() {
        return ctx.rank;
    }

    /** The device this worker's process is bound to (its resource pool slot's): where its methods allocate. */
    public Device device() {
        return ctx.device;
    }

    /** The media driver's directory this worker uses. */
    public String driverDirectory() {
        return transport.directory();
    }

    /** Frames dropped so far, by reason. */
    public FrameStats stats() {
        return Endpoints.stats(agent.counters());
    }

    /**
     * Frames of the reference data plane this worker dropped, as the owner of references (requests) or as their
     * consumer (chunks and answers): malformed, failing their MAC or replayed, or not addressed to it.
     */
    public FrameStats referenceStats() {
        return agent.referenceStats();
    }

    /**
     * Registers a communicator of this worker's groups: when the controller aborts this worker's calls (it does when
     * a worker of a group this one shares is lost) or the controller is lost, the communicator is aborted, so this
     * worker does not hang in a collective with the lost peer.
     */
    public void registerCommunicator(Communicator communicator) {
        agent.register(Objects.requireNonNull(communicator, "communicator"));
    }

    /** Payload bytes this worker encoded and decoded so far, and referenced rows it served and fetched. */
    public PayloadStats payloadStats() {
        long[] references = agent.referenceBytes();
        return new PayloadStats(agent.payloads().encodedBytes(), agent.payloads().decodedBytes(), references[0],
                references[1], references[2]);
    }

    /**
     * Waits until the controller sends shutdown (also sent when its control plane closes), the media driver is lost
     * (the controller's process died, for a worker on its driver), or this worker is closed.
     *
     * @return why: {@code controller shutdown: reason=...}, {@code media driver lost: directory=...},
     *         {@code controller lost: ...}, {@code controller unreachable: reply not sent: ...} (a result and the
     *         error reporting it could not be sent within the send timeout) or {@code worker closed}
     * @throws InterruptedException if interrupted while waiting
     */
    public String awaitShutdown() throws InterruptedException {
        agent.shutdownSignal().await();
        return agent.shutdownReason();
    }

    /**
     * Stops heartbeating and receiving, closes the client (and the embedded driver, deleting its directory), then
     * interrupts the call that is running.
     *
     * @throws IllegalStateException if already closed
     */
    @Override
    public synchronized void close() {
        if (closed) {
            throw new IllegalStateException("worker already closed: workerId=" + ctx.workerId);
        }
        closed = true;
        CloseHelper.closeAll(runner, transport);
        executor.shutdownNow();
        Contexts.removeDeadDriverDirectories();
    }

    /** Settings of a worker, with fluent accessors; validated once by {@link #conclude()}. Confined to one thread. */
    public static final class Context {

        private int workerId = -1;
        private int rank = -1;
        private List<String> roles = List.of();
        private Map<String, GroupTopology.MeshRank> meshes = Map.of();
        private WorkerMethods methods;
        private String controllerChannel;
        private String replyHost = "127.0.0.1";
        private byte[] sharedSecret;
        private ControlPlane.Threading threading = ControlPlane.Threading.SHARED;
        private ControlPlane.Idle idle = ControlPlane.Idle.BACKOFF;
        private String driverDirectory;
        private String externalDriverDirectory;
        private List<PayloadType<?>> payloadTypes = List.of();
        private Allocator allocator;
        private long inlineLimitBytes = TensorRef.DEFAULT_INLINE_LIMIT_BYTES;
        private long controllerTimeoutNs = DEFAULT_CONTROLLER_TIMEOUT_NS;
        private List<Communicator> communicators = List.of();
        private long registrationTimeoutNs = DEFAULT_REGISTRATION_TIMEOUT_NS;
        private long sendTimeoutNs = ControlPlane.DEFAULT_SEND_TIMEOUT_NS;
        private long pid = ProcessHandle.current().pid();
        private String host;
        private Device device = Device.host();

        /**
         * A context with the worker id, rank, controller channel and (if set) the controller's driver directory taken
         * from {@code env}, as a launcher sets them: {@value #ENV_RANK}, {@value #ENV_WORKER_ID} (default: the
         * rank), {@value #ENV_CONTROLLER}, {@value #ENV_DRIVER_DIR}, {@value #ENV_DEVICE} (default: the host).
         * Called by a worker's main, which passes {@code System.getenv()}.
         *
         * @throws IllegalArgumentException if {@value #ENV_RANK} or {@value #ENV_CONTROLLER} is missing or a number
         *         or a device does not parse, naming the variable and its value
         */
        public static Context fromEnvironment(Map<String, String> env) {
            Context ctx = new Context();
            int rank = intVar(env, ENV_RANK, null);
            ctx.rank(rank).workerId(intVar(env, ENV_WORKER_ID, rank));
            String controller = env.get(ENV_CONTROLLER);
            if (controller == null) {
                throw new IllegalArgumentException("missing environment variable: name=" + ENV_CONTROLLER);
            }
            ctx.controller(controller);
            if (env.get(ENV_DRIVER_DIR) != null) {
                ctx.externalDriverDirectory(env.get(ENV_DRIVER_DIR));
            }
            String device = env.get(ENV_DEVICE);
            if (device != null) {
                try {
                    ctx.device(Device.parse(device));
                } catch (IllegalArgumentException e) {
                    throw new IllegalArgumentException("invalid environment variable: name=" + ENV_DEVICE
                            + ", value=" + device + ", expected host, cpu or cuda:N", e);
                }
            }
            return ctx;
        }

        private static int intVar(Map<String, String> env, String name, Integer fallback) {
            String value = env.get(name);
            if (value == null) {
                if (fallback == null) {
                    throw new IllegalArgumentException("missing environment variable: name=" + name);
                }
                return fallback;
            }
            try {
                return Integer.parseInt(value.trim());
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("environment variable is not an integer: name=" + name
                        + ", value=" + value);
            }
        }

        /** Unique id of this worker in the job (also picks its reply stream). */
        public Context workerId(int workerId) {
            this.workerId = workerId;
            return this;
        }

        public int workerId() {
            return workerId;
        }

        public int rank() {
            return rank;
        }

        public List<String> roles() {
            return roles;
        }

        /** The controller's channel. */
        public String controller() {
            return controllerChannel;
        }

        public String externalDriverDirectory() {
            return externalDriverDirectory;
        }

        /** Rank in each of its roles' groups. */
        /** The device the worker's process is bound to (default: the host). */
        public Context device(Device device) {
            this.device = Objects.requireNonNull(device, "device");
            return this;
        }

        public Device device() {
            return device;
        }

        public Context rank(int rank) {
            this.rank = rank;
            return this;
        }

        /** Roles (group names) served; colocated roles share this process. */
        public Context roles(List<String> roles) {
            this.roles = List.copyOf(roles);
            return this;
        }

        /** Places in named meshes (DP rank, DP size, collect flag). */
        public Context meshes(Map<String, GroupTopology.MeshRank> meshes) {
            this.meshes = Map.copyOf(meshes);
            return this;
        }

        public Context methods(WorkerMethods methods) {
            this.methods = methods;
            return this;
        }

        /** The controller's channel, as {@link ControlPlane#endpoint()} gives it. */
        public Context controller(String channel) {
            this.controllerChannel = channel;
            return this;
        }

        /** Address the controller reaches this worker at over udp (default 127.0.0.1; unused over ipc). */
        public Context replyHost(String host) {
            this.replyHost = host;
            return this;
        }

        /**
         * Secret shared with the controller: registration answers its challenge with an HMAC, every later frame both
         * ways carries a MAC under a key derived from the challenge, and a controller that does not challenge (it has
         * no secret) is refused.
         */
        public Context sharedSecret(byte[] secret) {
            this.sharedSecret = secret == null ? null : secret.clone();
            return this;
        }

        public Context threading(ControlPlane.Threading threading) {
            this.threading = Objects.requireNonNull(threading, "threading");
            return this;
        }

        public Context idle(ControlPlane.Idle idle) {
            this.idle = Objects.requireNonNull(idle, "idle");
            return this;
        }

        /** Directory of this worker's own embedded driver (default: Aeron's default plus a random id). */
        public Context driverDirectory(String directory) {
            this.driverDirectory = directory;
            return this;
        }

        /** Connect to the driver running in {@code directory} (for example the controller's, on one host). */
        public Context externalDriverDirectory(String directory) {
            this.externalDriverDirectory = directory;
            return this;
        }

        public Context payloadTypes(List<PayloadType<?>> types) {
            this.payloadTypes = List.copyOf(types);
            return this;
        }

        /**
         * The allocator DataBatch arguments decoded here allocate from (default: a root allocator of this worker,
         * {@code worker-<workerId>}).
         */
        public Context allocator(Allocator allocator) {
            this.allocator = Objects.requireNonNull(allocator, "allocator");
            return this;
        }

        public Allocator allocator() {
            return allocator;
        }

        /**
         * Result tensors larger than this travel by reference: this worker keeps them and the result carries
         * {@link TensorRef}s (default {@link TensorRef#DEFAULT_INLINE_LIMIT_BYTES}, 64 KiB).
         */
        public Context inlineLimitBytes(long limitBytes) {
            this.inlineLimitBytes = limitBytes;
            return this;
        }

        public long inlineLimitBytes() {
            return inlineLimitBytes;
        }

        /**
         * A controller silent for longer than this is lost: the worker aborts its communicators and calls and
         * {@link Worker#awaitShutdown()} returns {@code controller lost: ...} (default
         * {@link #DEFAULT_CONTROLLER_TIMEOUT_NS}, 10 s).
         */
        public Context controllerTimeoutNs(long timeoutNs) {
            this.controllerTimeoutNs = timeoutNs;
            return this;
        }

        public long controllerTimeoutNs() {
            return controllerTimeoutNs;
        }

        /**
         * Communicators aborted with this worker's calls (see {@link Worker#registerCommunicator}). The first that is
         * a shm world's ({@link Communicators#sharedMemory}) also holds this worker's references: they live in its
         * arena, and consumers of that world copy them in place instead of fetching them over Aeron.
         */
        public Context communicators(List<Communicator> communicators) {
            this.communicators = List.copyOf(communicators);
            return this;
        }

        public Context registrationTimeoutNs(long timeoutNs) {
            this.registrationTimeoutNs = timeoutNs;
            return this;
        }

        /**
         * How long a frame to the controller is retried while back pressured or not connected (default 5 s): a
         * result not sent by then is reported as an error, and a worker that cannot send that either stops.
         */
        public Context sendTimeoutNs(long timeoutNs) {
            this.sendTimeoutNs = timeoutNs;
            return this;
        }

        /** Process id reported to the controller (default: this JVM's). */
        public Context pid(long pid) {
            this.pid = pid;
            return this;
        }

        /** Host name reported to the controller (default: the local host name). */
        public Context host(String host) {
            this.host = host;
            return this;
        }

        /**
         * Checks the settings and fills defaults.
         *
         * @throws IllegalArgumentException if the worker id or rank is negative, no role or no method table is set,
         *         the controller channel is not an aeron:ipc or aeron:udp channel, a timeout is not positive, the
         *         secret is shorter than {@link ControlPlane#MIN_SECRET_BYTES}, or the reply host (where the worker also
         *         serves its references) is beyond loopback without a shared secret
         */
        public Context conclude() {
            if (workerId < 0 || workerId > WorkerChannels.MAX_WORKER_ID) {
                throw new IllegalArgumentException("worker id out of range: workerId=" + workerId + ", expected=0.."
                        + WorkerChannels.MAX_WORKER_ID);
            }
            if (rank < 0) {
                throw new IllegalArgumentException("worker rank must be non-negative: rank=" + rank);
            }
            if (roles.isEmpty()) {
                throw new IllegalArgumentException("a worker needs at least one role: workerId=" + workerId);
            }
            if (methods == null) {
                throw new IllegalArgumentException("a worker needs a method table: workerId=" + workerId);
            }
            if (controllerChannel == null || !(controllerChannel.startsWith("aeron:ipc")
                    || controllerChannel.startsWith("aeron:udp?endpoint="))) {
                throw new IllegalArgumentException("controller channel must be aeron:ipc or aeron:udp?endpoint=...:"
                        + " controller=" + controllerChannel);
            }
            if (registrationTimeoutNs <= 0 || sendTimeoutNs <= 0) {
                throw new IllegalArgumentException("timeouts must be positive: registrationTimeoutNs="
                        + registrationTimeoutNs + ", sendTimeoutNs=" + sendTimeoutNs);
            }
            Contexts.requireSecretLength(sharedSecret);
            if (sharedSecret == null && !Endpoints.isLoopback(replyHost)) {
                throw new IllegalArgumentException("a reply host beyond loopback requires a shared secret (it serves"
                        + " references and control replies on udp): replyHost=" + replyHost + ", expected=a loopback"
                        + " address or sharedSecret(...)");
            }
            if (controllerTimeoutNs <= 0) {
                throw new IllegalArgumentException("controller timeout must be positive: controllerTimeoutNs="
                        + controllerTimeoutNs);
            }
            Contexts.requireInlineLimit(inlineLimitBytes);
            if (allocator == null) {
                allocator = Allocator.root("worker-" + workerId);
            }
            PayloadCodec.of(DataBatchPayloadType.withDefault(payloadTypes, allocator));
            if (host == null) {
                host = Contexts.localHostName();
            }
            if (externalDriverDirectory == null && driverDirectory == null) {
                driverDirectory = Contexts.embeddedDriverDirectory("worker-" + workerId);
            }
            return this;
        }
    }
}
