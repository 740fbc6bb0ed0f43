package io.yatt.controller.internal.runtime;

import io.aeron.ExclusivePublication;
import io.aeron.FragmentAssembler;
import io.aeron.Subscription;
import io.yatt.collectives.Communicator;
import io.yatt.controller.DataBatch;
import io.yatt.controller.DispatchModes;
import io.yatt.controller.Execution;
import io.yatt.controller.ReferenceColumn;
import io.yatt.controller.TensorRef;
import io.yatt.controller.WorkerMethods;
import io.yatt.controller.internal.wire.ControllerProxy;
import io.yatt.controller.internal.wire.FrameAdapter;
import io.yatt.controller.internal.wire.FrameCounters;
import io.yatt.controller.internal.wire.FrameDecoder;
import io.yatt.controller.internal.wire.FrameTag;
import io.yatt.controller.internal.wire.Message;
import io.yatt.controller.internal.wire.MessageHandler;
import io.yatt.controller.internal.wire.PayloadCodec;
import io.yatt.controller.internal.wire.Reassembly;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Future;
import java.util.concurrent.FutureTask;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import io.yatt.collectives.SharedMemory;
import io.yatt.tensor.Allocator;
import io.yatt.tensor.Device;
import io.yatt.tensor.Tensor;
import org.agrona.DirectBuffer;
import org.agrona.concurrent.Agent;

/**
 * A worker's duty cycle: registers (answering a challenge with the HMAC of the controller's nonce), heartbeats at
 * the interval the controller set, and hands invokes to the worker's executor, which runs them in order and sends
 * results or errors; an invoke that awaits its input holds the queue until its {@code InvokeInput} arrives. A method
 * declared {@link Execution#AGENT} runs here, on the agent's thread, when nothing is queued before it. Frames from any
 * session other than the accepting controller's are counted and dropped, and after a challenged registration so are
 * frames whose MAC does not open under the session key.
 */
public final class WorkerAgent implements Agent, MessageHandler {

    /**
     * The method every worker serves besides its own: ends a step of its reference store (frees the regions of that
     * step and earlier) and returns the names of those no consumer pulled.
     */
    public static final String END_STEP_METHOD = "yatt.endStep";

    /** Pause between registration attempts until the controller answers. */
    static final long REGISTER_RETRY_NS = TimeUnit.MILLISECONDS.toNanos(200);

    private enum State { REGISTERING, ACTIVE, REFUSED, STOPPED }

    private final Message.Register registration;
    private final Subscription subscription;
    private final FragmentAssembler assembler;
    private final ControllerProxy controller;
    private final ExclusivePublication toController;
    private final long sendTimeoutNs;
    /** Set (by any thread) when a reply could not be sent: the agent then stops, as for a lost controller. */
    private volatile String unreachable;
    private final FrameCounters counters = new FrameCounters();
    private final AeronTransport transport;
    private final WorkerMethods methods;
    private final PayloadCodec payloads;
    private final Allocator allocator;
    private final long inlineLimitBytes;
    private volatile ReferenceStore store;
    private ReferencePlane referencePlane;
    /** The shm world the store keeps its regions in (handed to the store when it opens), or null. */
    private volatile SharedMemory sharedMemory;
    private String referenceHost = "127.0.0.1";
    private long referenceTimeoutNs = TimeUnit.SECONDS.toNanos(30);
    private final long controllerTimeoutNs;
    private final List<Communicator> communicators = new CopyOnWriteArrayList<>();
    private long lastControllerNs;
    private final byte[] secret;
    private final ExecutorService executor;
    private final Map<Long, Future<?>> inFlight = new ConcurrentHashMap<>();
    /** Tasks handed to the calls thread that have not ended: an agent-run call waits behind them. */
    private final AtomicInteger queued = new AtomicInteger();
    private final Map<Long, CompletableFuture<List<Object>>> inputs = new ConcurrentHashMap<>();
    private final CompletableFuture<Long> registered = new CompletableFuture<>();
    private final CountDownLatch shutdown = new CountDownLatch(1);
    private volatile String shutdownReason = "";

    private State state = State.REGISTERING;
    private long controllerId;
    private int controllerSession;
    private long heartbeatIntervalNs;
    private long nextSendNs;
    private byte[] mac = new byte[0];
    /** The session keys derived from the last challenge: worker to controller, controller to worker. */
    private byte[][] challengeKeys;
    /** Opens the controller's frames once a challenged registration is accepted (null otherwise); agent thread. */
    private FrameTag inbound;

    /** An agent for the worker described by {@code registration} (its mac is computed here when challenged). */
    public WorkerAgent(AeronTransport transport, Message.Register registration, Subscription subscription,
                       ControllerProxy controller, ExclusivePublication toController, long sendTimeoutNs,
                       PayloadCodec payloads, WorkerMethods methods, byte[] secret,
                       ExecutorService executor, Allocator allocator, long inlineLimitBytes,
                       long controllerTimeoutNs) {
        this.controllerTimeoutNs = controllerTimeoutNs;
        this.allocator = allocator;
        this.inlineLimitBytes = inlineLimitBytes;
        this.registration = registration;
        this.transport = transport;
        this.subscription = subscription;
        this.controller = controller;
        this.toController = toController;
        this.sendTimeoutNs = sendTimeoutNs;
        this.methods = methods;
        this.payloads = payloads;
        this.secret = secret == null ? null : secret.clone();
        this.executor = executor;
        this.assembler = Reassembly.plain(new FrameAdapter(new FrameDecoder(payloads), this, counters,
                secret == null ? FrameAdapter.Gate.OPEN : this::admit));
    }

    @Override
    public String roleName() {
        return "yatt-worker-" + registration.workerId();
    }

    public FrameCounters counters() {
        return counters;
    }

    /** The payload codec of this worker (its byte counters). */
    public PayloadCodec payloads() {
        return payloads;
    }

    /** Completes with the controller's id once registration is accepted; fails if it is refused. */
    public CompletableFuture<Long> registered() {
        return registered;
    }

    /** Released when the controller asks this worker to shut down, the driver is lost, or the agent closes. */
    public CountDownLatch shutdownSignal() {
        return shutdown;
    }

    /** Why the worker stopped, once {@link #shutdownSignal()} is released. */
    public String shutdownReason() {
        return shutdownReason;
    }

    private void stop(String reason) {
        if (state != State.STOPPED) {
            state = State.STOPPED;
            shutdownReason = reason;
            shutdown.countDown();
        }
    }

    @Override
    public void onStart() {
        transport.owner(Thread.currentThread());
    }

    @Override
    public int doWork() {
        if (transport.aeron().isClosed()) {
            stop("media driver lost: directory=" + transport.directory());
            return 0;
        }
        String cannotReply = unreachable;
        if (cannotReply != null && state == State.ACTIVE) {
            abortCommunicators();
            for (Future<?> f : inFlight.values()) {
                f.cancel(true);
            }
            stop(cannotReply);
            return 1;
        }
        int work = transport.invoke();
        work += subscription.poll(assembler, ControllerAgent.FRAGMENT_LIMIT);
        long nowNs = System.nanoTime();
        if (nowNs - nextSendNs >= 0) {
            if (state == State.REGISTERING) {
                controller.register(withMac(mac));
                nextSendNs = nowNs + REGISTER_RETRY_NS;
                work++;
            } else if (state == State.ACTIVE) {
                if (nowNs - lastControllerNs > controllerTimeoutNs) {
                    abortCommunicators();
                    for (Future<?> f : inFlight.values()) {
                        f.cancel(true);
                    }
                    stop("controller lost: controllerId=" + controllerId + ", lastHeartbeatAgeMs="
                            + TimeUnit.NANOSECONDS.toMillis(nowNs - lastControllerNs) + ", timeoutMs="
                            + TimeUnit.NANOSECONDS.toMillis(controllerTimeoutNs));
                    return 1;
                }
                controller.heartbeat(registration.workerId(), nowNs, inFlight.size());
                nextSendNs = nowNs + heartbeatIntervalNs;
                work++;
            }
        }
        return work;
    }

    /**
     * With a shared secret: registration acks pass as they are; once a challenged registration is accepted, every
     * other frame must come from the accepting controller's session and open under its session key. A controller
     * without a secret accepts without a challenge, and its frames carry no MAC.
     */
    private int admit(DirectBuffer buffer, int offset, int length, int templateId, int sessionId) {
        FrameTag tag = inbound;
        if (!FrameTag.sealed(templateId) || tag == null) {
            return length;
        }
        return sessionId == controllerSession ? tag.open(buffer, offset, length) : FrameTag.NOT_AUTHENTIC;
    }

    private Message.Register withMac(byte[] m) {
        Message.Register r = registration;
        return new Message.Register(r.workerId(), r.rank(), r.pid(), r.replyStreamId(), r.roles(), r.meshes(),
                r.methods(), r.host(), r.replyChannel(), m);
    }

    @Override
    public Outcome onMessage(Message message, int sessionId) {
        if (message instanceof Message.RegisterAck ack) {
            return onAck(ack, sessionId);
        }
        if (state != State.ACTIVE || sessionId != controllerSession) {
            return Outcome.UNAUTHENTICATED;
        }
        lastControllerNs = System.nanoTime();
        return switch (message) {
            case Message.Heartbeat h -> h.workerId() == registration.workerId() ? Outcome.APPLIED : Outcome.DROPPED;
            case Message.Invoke invoke -> onInvoke(invoke);
            case Message.InvokeInput input -> {
                CompletableFuture<List<Object>> waiting = input.controllerId() == controllerId
                        ? inputs.remove(input.correlationId()) : null;
                if (waiting == null || !waiting.complete(input.skip() ? null : input.args())) {
                    Batches.close(input.args());
                    yield Outcome.DROPPED;
                }
                yield Outcome.APPLIED;
            }
            case Message.Cancel cancel -> {
                if (cancel.controllerId() != controllerId) {
                    yield Outcome.DROPPED;
                }
                CompletableFuture<List<Object>> waiting = inputs.remove(cancel.correlationId());
                if (waiting != null) {
                    waiting.cancel(false);
                    yield Outcome.APPLIED;
                }
                Future<?> f = inFlight.get(cancel.correlationId());
                if (f != null && f.cancel(false) && inFlight.remove(cancel.correlationId()) != null) {
                    replyError(cancel.correlationId(), CancellationException.class.getName(),
                            "cancelled before start");
                }
                yield Outcome.APPLIED;
            }
            case Message.Abort abort -> {
                if (abort.controllerId() != controllerId) {
                    yield Outcome.DROPPED;
                }
                abortCommunicators();
                for (Long id : List.copyOf(inFlight.keySet())) {
                    Future<?> f = inFlight.remove(id);
                    if (f != null) {
                        f.cancel(true);
                        replyError(id, CancellationException.class.getName(), "aborted: " + abort.reason());
                    }
                }
                for (Long id : List.copyOf(inputs.keySet())) {
                    CompletableFuture<List<Object>> waiting = inputs.remove(id);
                    if (waiting != null) {
                        waiting.cancel(false);
                    }
                }
                yield Outcome.APPLIED;
            }
            case Message.Shutdown s -> {
                if (s.controllerId() != controllerId) {
                    yield Outcome.DROPPED;
                }
                stop("controller shutdown: reason=" + s.reason());
                yield Outcome.APPLIED;
            }
            default -> Outcome.DROPPED;
        };
    }

    private Outcome onAck(Message.RegisterAck ack, int sessionId) {
        if (state != State.REGISTERING || ack.workerId() != registration.workerId()) {
            return Outcome.DROPPED;
        }
        switch (ack.status()) {
            case ACCEPTED -> {
                if (secret != null && challengeKeys == null) {
                    // a controller with the secret always challenges: this one has none, or is not the controller
                    state = State.REFUSED;
                    registered.completeExceptionally(new IllegalStateException("registration refused: the controller"
                            + " did not challenge a worker that has a shared secret, controllerId=" + ack.controllerId()
                            + ", workerId=" + registration.workerId()));
                    return Outcome.APPLIED;
                }
                try {
                    store = ReferenceStore.open(ack.controllerId(), registration.workerId(), allocator,
                            sharedMemory);
                } catch (IllegalStateException e) {
                    state = State.REFUSED;
                    registered.completeExceptionally(e);
                    return Outcome.APPLIED;
                }
                if (challengeKeys != null) {
                    controller.seal(FrameTag.of(challengeKeys[0]));
                    inbound = FrameTag.of(challengeKeys[1]);
                }
                state = State.ACTIVE;
                lastControllerNs = System.nanoTime();
                controllerId = ack.controllerId();
                controllerSession = sessionId;
                heartbeatIntervalNs = ack.heartbeatIntervalNs();
                nextSendNs = System.nanoTime();
                registered.complete(controllerId);
            }
            case CHALLENGE -> {
                if (secret == null) {
                    state = State.REFUSED;
                    registered.completeExceptionally(new IllegalStateException(
                            "registration refused: the controller requires a shared secret, workerId="
                                    + registration.workerId()));
                } else {
                    mac = Hmac.registration(secret, ack.nonce(), registration.workerId(), registration.rank());
                    challengeKeys = new byte[][] {
                        Hmac.sessionKey(secret, Hmac.WORKER_TO_CONTROLLER, ack.nonce(), registration.workerId(),
                                registration.rank()),
                        Hmac.sessionKey(secret, Hmac.CONTROLLER_TO_WORKER, ack.nonce(), registration.workerId(),
                                registration.rank())};
                    nextSendNs = System.nanoTime();
                }
            }
            case REFUSED -> {
                state = State.REFUSED;
                registered.completeExceptionally(new IllegalStateException("registration refused: reason="
                        + ack.reason() + ", workerId=" + registration.workerId()));
            }
        }
        return Outcome.APPLIED;
    }

    private Outcome onInvoke(Message.Invoke invoke) {
        if (invoke.controllerId() != controllerId) {
            Batches.close(invoke.args());
            return Outcome.DROPPED;
        }
        long id = invoke.correlationId();
        if (!registration.roles().contains(invoke.group())
                || !(methods.contains(invoke.method()) || END_STEP_METHOD.equals(invoke.method()))) {
            replyError(id, IllegalArgumentException.class.getName(), "not served here: group=" + invoke.group()
                            + ", method=" + invoke.method() + ", roles=" + registration.roles() + ", methods="
                            + methods.names().stream().sorted().toList());
            Batches.close(invoke.args());
            return Outcome.APPLIED;
        }
        if (!invoke.awaitInput() && queued.get() == 0 && methods.contains(invoke.method())
                && methods.execution(invoke.method()) == Execution.AGENT) {
            runOnAgent(id, invoke.method(), invoke.step(), invoke.args());
            return Outcome.APPLIED;
        }
        FutureTask<Void> task;
        if (invoke.awaitInput()) {
            CompletableFuture<List<Object>> input = new CompletableFuture<>();
            inputs.put(id, input);
            task = new FutureTask<>(() -> runWhenInput(id, invoke.method(), invoke.step(), input), null);
        } else {
            AtomicBoolean claimed = new AtomicBoolean();
            task = new FutureTask<>(() -> {
                if (claimed.compareAndSet(false, true)) {
                    run(id, invoke.method(), invoke.step(), invoke.args());
                }
            }, null) {
                @Override
                protected void done() {
                    if (isCancelled() && claimed.compareAndSet(false, true)) {
                        Batches.close(invoke.args());
                    }
                }
            };
        }
        inFlight.put(id, task);
        queue(task);
        return Outcome.APPLIED;
    }

    /** Runs {@code task} on the calls thread; {@link #queued} counts it until it ends (or is skipped, cancelled). */
    private void queue(Runnable task) {
        queued.incrementAndGet();
        try {
            executor.execute(() -> {
                try {
                    task.run();
                } finally {
                    queued.decrementAndGet();
                }
            });
        } catch (RuntimeException e) {
            queued.decrementAndGet();
            throw e;
        }
    }

    /**
     * Runs an {@link Execution#AGENT} method here, on the agent's thread, and answers at once if the controller's
     * stream takes the reply without waiting; otherwise the calls thread sends it (with the send timeout), so the
     * agent never blocks on a send while the controller may block on it.
     */
    private void runOnAgent(long correlationId, String method, long step, List<Object> args) {
        Reply reply = compute(method, step, args);
        boolean sent;
        try {
            sent = reply.error() == null
                    ? controller.resultNow(correlationId, registration.workerId(), registration.rank(), reply.sent())
                    : controller.errorNow(correlationId, registration.workerId(), registration.rank(),
                            reply.errorType(), reply.error());
        } catch (RuntimeException e) {
            sent = false;
        }
        if (sent) {
            reply.close();
            return;
        }
        queue(() -> {
            try (reply) {
                deliver(correlationId, method, reply);
            }
        });
    }

    /**
     * Waits (on the calls thread, so later calls queue behind it) for the arguments of an invoke that awaits its
     * input, then runs it; a skipped call ends without a reply, a cancelled one answers with an error unless an
     * abort already did.
     */
    private void runWhenInput(long correlationId, String method, long step, CompletableFuture<List<Object>> input) {
        List<Object> args;
        try {
            args = input.get();
        } catch (InterruptedException e) {
            inputs.remove(correlationId);
            inFlight.remove(correlationId);
            return;
        } catch (ExecutionException | CancellationException e) {
            if (inFlight.remove(correlationId) != null) {
                replyError(correlationId, CancellationException.class.getName(), "cancelled before start");
            }
            return;
        }
        if (args == null) {
            inFlight.remove(correlationId);
            return;
        }
        run(correlationId, method, step, args);
    }

    /**
     * Runs one call on the calls thread; sends its result or error unless an abort or cancel already answered for it.
     */
    private void run(long correlationId, String method, long step, List<Object> args) {
        try (Reply reply = compute(method, step, args)) {
            if (inFlight.remove(correlationId) != null) {
                deliver(correlationId, method, reply);
            }
        }
    }

    /**
     * A call's answer and what the runtime must close once it is sent: the sent form, the result, then every argument
     * batch the result does not hold (a method that returns its input is closed once). {@code error} is null when the
     * method returned.
     */
    private record Reply(Object sent, Object value, List<Object> callArgs, List<Object> args, String errorType,
                         String error) implements AutoCloseable {
        @Override
        public void close() {
            Batches.close(sent);
            Batches.close(value);
            Batches.close(callArgs);
            Batches.close(args);
        }
    }

    /**
     * Runs {@code method}. The runtime owns the decoded arguments and the result: arguments holding references get
     * their rows pulled first, the result gets the arguments' pad size ({@link DispatchModes#carryPadSize}), and its
     * tensors above the inline limit are published in the reference store and travel as references.
     */
    private Reply compute(String method, long step, List<Object> args) {
        List<Object> callArgs = null;
        Object value = null;
        try {
            if (END_STEP_METHOD.equals(method)) {
                value = store.endStep(((Number) args.getFirst()).longValue());
            } else {
                callArgs = resolve(args);
                value = methods.invoke(method, callArgs);
                value = DispatchModes.carryPadSize(callArgs.toArray(), value);
            }
            return new Reply(byReference(value, step), value, callArgs, args, null, null);
        } catch (Throwable t) {
            return new Reply(null, value, callArgs, args, t.getClass().getName(), messageOf(t));
        }
    }

    /** Sends a reply, waiting up to the send timeout (calls thread); a result that cannot go becomes an error. */
    private void deliver(long correlationId, String method, Reply reply) {
        int rank = registration.rank();
        if (reply.error() != null) {
            replyError(correlationId, reply.errorType(), reply.error());
            return;
        }
        boolean delivered;
        try {
            delivered = controller.result(correlationId, registration.workerId(), rank, reply.sent());
        } catch (IllegalArgumentException e) {
            replyError(correlationId, e.getClass().getName(), messageOf(e));
            return;
        }
        if (!delivered) {
            replyError(correlationId, IllegalStateException.class.getName(), "result not sent: correlationId="
                    + correlationId + ", method=" + method + ", rank=" + rank + ", reason="
                    + PublicationSink.failure(toController) + ", timeoutMs="
                    + TimeUnit.NANOSECONDS.toMillis(sendTimeoutNs));
        }
    }

    /**
     * Sends an error for a call; if even that cannot be sent within the send timeout, the call would hang on the
     * controller, so the worker stops (its heartbeats end and the controller fails the call as a lost worker).
     * Called from the agent's thread or the calls thread.
     */
    private void replyError(long correlationId, String type, String message) {
        if (!controller.error(correlationId, registration.workerId(), registration.rank(), type, message)) {
            String reason = "controller unreachable: reply not sent: correlationId=" + correlationId + ", error="
                    + type + ", reason=" + PublicationSink.failure(toController) + ", timeoutMs="
                    + TimeUnit.NANOSECONDS.toMillis(sendTimeoutNs);
            System.err.println("yatt worker " + registration.workerId() + ": " + reason + ", message=" + message);
            if (unreachable == null) {
                unreachable = reason;
            }
        }
    }

    /**
     * Where this worker serves its references to other processes (udp on {@code host}) and how long a fetch may take;
     * the reference plane starts with the first reference published or fetched from another process.
     */
    public void referencePlane(String host, long timeoutNs) {
        this.referenceHost = host;
        this.referenceTimeoutNs = timeoutNs;
    }

    /**
     * Keeps this worker's references in {@code shared} (its shm world's arena; owned by this agent from now on) so
     * that consumers of the same world copy them in place; call before the worker registers.
     */
    public void sharedMemory(SharedMemory shared) {
        this.sharedMemory = shared;
    }

    /** The reference plane, started on first use (from the calls thread, while this agent runs the driver). */
    private synchronized ReferencePlane referencePlane() {
        if (referencePlane == null) {
            referencePlane = ReferencePlane.start(transport.directory(), registration.workerId(), referenceHost,
                    referenceTimeoutNs, secret);
            referencePlane.serve(store);
        }
        return referencePlane;
    }

    /** Reference frames this worker dropped as an owner or a consumer (none before its reference plane starts). */
    public synchronized io.yatt.controller.FrameStats referenceStats() {
        return referencePlane == null ? new io.yatt.controller.FrameStats(0, 0, 0) : referencePlane.stats();
    }

    /**
     * Bytes of referenced rows served to, and fetched from, workers of other processes over Aeron, and copied in
     * place from the shared memory of owners in this worker's shm world.
     */
    public synchronized long[] referenceBytes() {
        return referencePlane == null ? new long[3]
                : new long[] {referencePlane.servedBytes(), referencePlane.fetchedBytes(),
                    referencePlane.sharedBytes()};
    }

    /** {@code args} with every batch that holds reference columns replaced by a batch with the rows pulled. */
    private List<Object> resolve(List<Object> args) {
        List<Object> resolved = new ArrayList<>(args.size());
        try {
            for (Object arg : args) {
                resolved.add(arg instanceof DataBatch batch && hasReferences(batch) ? pulled(batch) : arg);
            }
        } catch (RuntimeException e) {
            for (int i = 0; i < resolved.size(); i++) {
                if (resolved.get(i) != args.get(i)) {
                    Batches.close(resolved.get(i));
                }
            }
            throw e;
        }
        return Collections.unmodifiableList(resolved);
    }

    private static boolean hasReferences(DataBatch batch) {
        for (String key : batch.columnKeys()) {
            if (DataBatchPayloadType.isReferenceColumn(batch.column(key))) {
                return true;
            }
        }
        return false;
    }

    private DataBatch pulled(DataBatch batch) {
        List<Tensor> owned = new ArrayList<>();
        try {
            DataBatch.Builder builder = DataBatch.builder(allocator);
            for (String key : batch.tensorKeys()) {
                Tensor copy = copy(batch.tensor(key));
                owned.add(copy);
                builder.tensor(key, copy);
            }
            Map<ReferenceColumn.Region, ReferenceStore.Claim> claims =
                    ReferenceStore.claims(batch.metadata().get(ReferenceStore.CLAIM_KEY));
            Map<Integer, String> endpoints = ReferencePlane.endpoints(batch.metadata());
            Map<Integer, String> sharedLocations = ReferencePlane.sharedLocations(batch.metadata());
            ReferenceStore own = store;
            for (String key : batch.columnKeys()) {
                List<Object> column = batch.column(key);
                if (column instanceof ReferenceColumn references && !references.isEmpty()) {
                    Tensor rows = ReferenceStore.pull(controllerId, references, claims, endpoints, sharedLocations,
                            own == null ? null : own.sharedMemory(), this::referencePlane, allocator);
                    owned.add(rows);
                    builder.tensor(key, rows);
                } else {
                    builder.column(key, column);
                }
            }
            batch.metadata().forEach((k, v) -> {
                if (!ReferenceStore.CLAIM_KEY.equals(k) && !ReferencePlane.isPlaneKey(k)) {
                    builder.metadata(k, v);
                }
            });
            return builder.build();
        } catch (RuntimeException e) {
            for (Tensor t : owned) {
                t.close();
            }
            throw e;
        }
    }

    /**
     * {@code value} itself, or, for a batch with tensors above the inline limit, a new batch in which those travel
     * as one reference per row into a region of this worker's store.
     */
    private Object byReference(Object value, long step) {
        if (!(value instanceof DataBatch batch) || batch.isClosed()) {
            return value;
        }
        boolean large = false;
        for (String key : batch.tensorKeys()) {
            large |= !TensorRef.travelsInline(batch.tensor(key).byteSize(), inlineLimitBytes);
        }
        if (!large) {
            return value;
        }
        List<Tensor> owned = new ArrayList<>();
        try {
            DataBatch.Builder builder = DataBatch.builder(allocator);
            for (String key : batch.tensorKeys()) {
                Tensor t = batch.tensor(key);
                if (TensorRef.travelsInline(t.byteSize(), inlineLimitBytes)) {
                    Tensor copy = copy(t);
                    owned.add(copy);
                    builder.tensor(key, copy);
                    continue;
                }
                builder.column(key, store.publish(key, step, t));
                builder.metadata(ReferencePlane.ENDPOINT_KEY_PREFIX + registration.workerId(),
                        referencePlane().endpoint());
                String shared = store.sharedLocation();
                if (shared != null) {
                    builder.metadata(ReferencePlane.SHARED_KEY_PREFIX + registration.workerId(), shared);
                }
            }
            for (String key : batch.columnKeys()) {
                builder.column(key, batch.column(key));
            }
            batch.metadata().forEach(builder::metadata);
            return builder.build();
        } catch (RuntimeException e) {
            for (Tensor t : owned) {
                t.close();
            }
            throw e;
        }
    }

    private Tensor copy(Tensor source) {
        Tensor copy = Tensor.allocate(allocator, source.dtype(), source.shape(), Device.host());
        try {
            copy.copyFrom(source);
        } catch (RuntimeException e) {
            copy.close();
            throw e;
        }
        return copy;
    }

    private static String messageOf(Throwable t) {
        return t.getMessage() == null ? "" : t.getMessage();
    }

    /** Aborts this communicator too when the controller aborts this worker's calls or is lost. */
    public void register(Communicator communicator) {
        communicators.add(communicator);
    }

    private void abortCommunicators() {
        for (Communicator c : communicators) {
            try {
                c.abort();
            } catch (RuntimeException e) {
                // one failing abort must not keep the others from aborting
            }
        }
    }

    @Override
    public void onClose() {
        ReferenceStore s = store;
        if (s != null) {
            s.close();
        } else if (sharedMemory != null) {
            sharedMemory.close();
        }
        synchronized (this) {
            if (referencePlane != null) {
                referencePlane.close();
            }
        }
        if (!registered.isDone()) {
            registered.completeExceptionally(new IllegalStateException("worker closed before registration: workerId="
                    + registration.workerId()));
        }
        stop("worker closed");
    }
}
