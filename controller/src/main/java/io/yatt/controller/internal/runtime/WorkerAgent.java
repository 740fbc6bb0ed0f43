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
import java.util.Comparator;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
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
import java.util.function.BooleanSupplier;
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
    /** Error replies of the agent's thread not sent yet (agent thread only). */
    private final java.util.ArrayDeque<PendingError> pendingErrors = new java.util.ArrayDeque<>();
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
    /** With a secret: the session of the first CHALLENGE, the only one whose acks apply from then on. */
    private int challengeSession;
    /** With a secret: whether a registration carrying the MAC over the challenge's nonce was sent. */
    private boolean challengeAnswered;
    /** Why registration has not completed, when an ack was dropped that a misconfigured controller would send. */
    private volatile String registrationNote;
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
        work += retryErrors(System.nanoTime());
        work += subscription.poll(assembler, ControllerAgent.FRAGMENT_LIMIT);
        long nowNs = System.nanoTime();
        if (nowNs - nextSendNs >= 0) {
            if (state == State.REGISTERING) {
                controller.register(withMac(mac));
                challengeAnswered |= mac.length > 0;
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
                cancelCall(cancel.correlationId());
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
                        replyErrorFromAgent(id, CancellationException.class.getName(), "aborted: " + abort.reason());
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
        if (secret != null && !authentic(ack, sessionId)) {
            if (ack.status() == Message.AckStatus.ACCEPTED && challengeKeys == null && state == State.REGISTERING
                    && ack.workerId() == registration.workerId()) {
                // a controller with the secret always challenges: this one has none, or is not the controller
                registrationNote = "the controller accepted without a challenge a worker that has a shared secret"
                        + " (dropped as unauthenticated), controllerId=" + ack.controllerId();
            }
            return Outcome.UNAUTHENTICATED;
        }
        if (state != State.REGISTERING || ack.workerId() != registration.workerId()) {
            return Outcome.DROPPED;
        }
        switch (ack.status()) {
            case ACCEPTED -> {
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
                    if (challengeKeys == null) {
                        challengeSession = sessionId;
                    }
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

    /**
     * With a shared secret, whether a registration ack may apply: the first CHALLENGE (from any session) fixes the
     * controller's session; later acks apply only from that session, and ACCEPTED or REFUSED only once this worker
     * answered the challenge. Anyone able to publish on the reply stream could otherwise refuse or redirect it.
     */
    private boolean authentic(Message.RegisterAck ack, int sessionId) {
        if (challengeKeys == null) {
            return ack.status() == Message.AckStatus.CHALLENGE;
        }
        return sessionId == challengeSession && (ack.status() == Message.AckStatus.CHALLENGE || challengeAnswered);
    }

    /** Why registration has not completed yet, if an ack explains it (null otherwise). */
    public String registrationNote() {
        return registrationNote;
    }

    private Outcome onInvoke(Message.Invoke invoke) {
        if (invoke.controllerId() != controllerId) {
            Batches.close(invoke.args());
            return Outcome.DROPPED;
        }
        long id = invoke.correlationId();
        if (!registration.roles().contains(invoke.group())
                || !(methods.contains(invoke.method()) || END_STEP_METHOD.equals(invoke.method()))) {
            replyErrorFromAgent(id, IllegalArgumentException.class.getName(), "not served here: group=" + invoke.group()
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
        AtomicBoolean started = new AtomicBoolean();
        CallTask task;
        if (invoke.awaitInput()) {
            CompletableFuture<List<Object>> input = new CompletableFuture<>();
            inputs.put(id, input);
            task = new CallTask(invoke.method(), invoke.step(), started,
                    () -> runWhenInput(id, invoke.method(), invoke.step(), input, started),
                    () -> Batches.close(input.isDone() && !input.isCompletedExceptionally() ? input.join() : null));
        } else {
            task = new CallTask(invoke.method(), invoke.step(), started, () -> {
                if (started.compareAndSet(false, true)) {
                    run(id, invoke.method(), invoke.step(), invoke.args());
                }
            }, () -> Batches.close(invoke.args()));
        }
        inFlight.put(id, task);
        queue(task);
        return Outcome.APPLIED;
    }

    /**
     * A call handed to the calls thread. {@code started} is claimed once, by the calls thread when the method starts
     * or by whoever drops the call before that (a cancel, an abort); the one that drops it closes its arguments.
     */
    private static final class CallTask extends FutureTask<Void> {
        final String method;
        final long step;
        final AtomicBoolean started;
        private final Runnable closeArgs;

        CallTask(String method, long step, AtomicBoolean started, Runnable body, Runnable closeArgs) {
            super(body, null);
            this.method = method;
            this.step = step;
            this.started = started;
            this.closeArgs = closeArgs;
        }

        /** Drops the call if its method has not started (closing its arguments); false if it has. */
        boolean dropBeforeStart() {
            if (!started.compareAndSet(false, true)) {
                return false;
            }
            cancel(false);
            closeArgs.run();
            return true;
        }

        @Override
        protected void done() {
            if (isCancelled() && started.compareAndSet(false, true)) {
                closeArgs.run();
            }
        }
    }

    /**
     * A cancel of a call on the calls thread. One queued (or waiting behind others with its input) is dropped and
     * answered "cancelled before start"; one whose method runs is answered "cancelled while running" at once and its
     * thread interrupted: whatever the method still returns is closed, never sent (one that ignores the interrupt
     * runs to completion first, and the calls queued behind it wait for that). Whoever takes the call out of
     * {@link #inFlight} answers it, so a call gets one answer; a call already answered is left alone.
     */
    private void cancelCall(long correlationId) {
        if (!(inFlight.get(correlationId) instanceof CallTask task)) {
            return;
        }
        if (task.dropBeforeStart()) {
            if (inFlight.remove(correlationId) != null) {
                replyErrorFromAgent(correlationId, CancellationException.class.getName(), "cancelled before start");
            }
        } else if (inFlight.remove(correlationId) != null) {
            task.cancel(true);
            replyErrorFromAgent(correlationId, CancellationException.class.getName(), "cancelled while running: method="
                    + task.method + ", step=" + task.step);
        }
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
        Reply reply = compute(method, step, args, () -> true);
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
    private void runWhenInput(long correlationId, String method, long step, CompletableFuture<List<Object>> input,
                              AtomicBoolean started) {
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
        if (started.compareAndSet(false, true)) {
            run(correlationId, method, step, args);
        }
    }

    /**
     * Runs one call on the calls thread; sends its result or error unless an abort or cancel already answered for it.
     */
    private void run(long correlationId, String method, long step, List<Object> args) {
        try (Reply reply = compute(method, step, args, () -> inFlight.containsKey(correlationId))) {
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
    private Reply compute(String method, long step, List<Object> args, BooleanSupplier wanted) {
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
            if (!wanted.getAsBoolean()) {
                // cancelled while it ran: the result is closed with the arguments, and publishes no references
                return new Reply(null, value, callArgs, args, CancellationException.class.getName(), "dropped");
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

    /** An error reply the agent could not send without waiting; retried every duty cycle until its deadline. */
    private record PendingError(long correlationId, String type, String message, long deadlineNs) {
    }

    /**
     * {@link #replyError} for the agent's thread, which must never wait on a send (its heartbeats would stop): sent at
     * once if the controller's stream takes it without waiting, otherwise kept and retried, in order, every duty cycle
     * ({@link #retryErrors}); one still unsent after the send timeout stops the worker as {@link #replyError} does.
     */
    private void replyErrorFromAgent(long correlationId, String type, String message) {
        if (pendingErrors.isEmpty() && errorNow(correlationId, type, message)) {
            return;
        }
        pendingErrors.add(new PendingError(correlationId, type, message, System.nanoTime() + sendTimeoutNs));
    }

    private boolean errorNow(long correlationId, String type, String message) {
        try {
            return controller.errorNow(correlationId, registration.workerId(), registration.rank(), type, message);
        } catch (RuntimeException e) {
            return false;
        }
    }

    /** The agent's retry of kept error replies: in order, each offered once without waiting. */
    private int retryErrors(long nowNs) {
        int sent = 0;
        while (!pendingErrors.isEmpty()) {
            PendingError p = pendingErrors.peek();
            if (errorNow(p.correlationId(), p.type(), p.message())) {
                pendingErrors.poll();
                sent++;
            } else if (nowNs - p.deadlineNs() > 0) {
                pendingErrors.poll();
                unreachable(p.correlationId(), p.type(), p.message());
            } else {
                break;
            }
        }
        return sent;
    }

    /**
     * Sends an error for a call; if even that cannot be sent within the send timeout, the call would hang on the
     * controller, so the worker stops (its heartbeats end and the controller fails the call as a lost worker).
     * Called from the agent's thread or the calls thread.
     */
    private void replyError(long correlationId, String type, String message) {
        if (!controller.error(correlationId, registration.workerId(), registration.rank(), type, message)) {
            unreachable(correlationId, type, message);
        }
    }

    /** An error reply that could not be sent within the send timeout: the worker stops (see {@link #replyError}). */
    private void unreachable(long correlationId, String type, String message) {
        String reason = "controller unreachable: reply not sent: correlationId=" + correlationId + ", error=" + type
                + ", reason=" + PublicationSink.failure(toController) + ", timeoutMs="
                + TimeUnit.NANOSECONDS.toMillis(sendTimeoutNs);
        System.err.println("yatt worker " + registration.workerId() + ": " + reason + ", message=" + message);
        if (unreachable == null) {
            unreachable = reason;
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
        List<DataBatch> made = new ArrayList<>();
        try {
            List<Object> resolved = new ArrayList<>(args.size());
            for (Object arg : args) {
                resolved.add(resolved(arg, made));
            }
            return Collections.unmodifiableList(resolved);
        } catch (RuntimeException e) {
            Batches.close(made);
            throw e;
        }
    }

    /**
     * {@code value} with every batch holding references (at any depth of lists and maps, as results carry them)
     * replaced by one with the rows pulled; the same object where nothing changed. The new batches go to {@code made}.
     */
    private Object resolved(Object value, List<DataBatch> made) {
        return Batches.map(value, batch -> {
            if (!hasReferences(batch)) {
                return batch;
            }
            DataBatch pulled = pulled(batch);
            made.add(pulled);
            return pulled;
        });
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
     * {@code value} itself, or, where it holds batches (at any depth of lists and maps) whose tensors do not all fit
     * inline, a copy in which those batches are rebuilt with some tensors travelling as one reference per row into a
     * region of this worker's store: every tensor above the inline limit, then the largest others until the inline
     * tensor bytes of the whole value together are within the limit (several tensors each under it could otherwise
     * exceed the largest message Aeron takes).
     */
    private Object byReference(Object value, long step) {
        if (!Batches.holdsBatch(value)) {
            return value;
        }
        Set<DataBatch> batches = Collections.newSetFromMap(new IdentityHashMap<>());
        Batches.map(value, batch -> {
            if (!batch.isClosed()) {
                batches.add(batch);
            }
            return batch;
        });
        Set<Tensor> referenced = Collections.newSetFromMap(new IdentityHashMap<>());
        List<Tensor> inline = new ArrayList<>();
        long inlineBytes = 0;
        for (DataBatch batch : batches) {
            for (String key : batch.tensorKeys()) {
                Tensor t = batch.tensor(key);
                if (TensorRef.travelsInline(t.byteSize(), inlineLimitBytes)) {
                    inline.add(t);
                    inlineBytes += t.byteSize();
                } else {
                    referenced.add(t);
                }
            }
        }
        inline.sort(Comparator.comparingLong(Tensor::byteSize).reversed());
        for (int i = 0; i < inline.size() && inlineBytes > inlineLimitBytes; i++) {
            referenced.add(inline.get(i));
            inlineBytes -= inline.get(i).byteSize();
        }
        if (referenced.isEmpty()) {
            return value;
        }
        List<DataBatch> made = new ArrayList<>();
        try {
            return rebuilt(value, referenced, step, made, new IdentityHashMap<>());
        } catch (RuntimeException e) {
            Batches.close(made);
            throw e;
        }
    }

    /** {@code value} with its batches that hold a {@code referenced} tensor rebuilt (each once); new ones in made. */
    private Object rebuilt(Object value, Set<Tensor> referenced, long step, List<DataBatch> made,
            Map<DataBatch, DataBatch> done) {
        return Batches.map(value, batch -> {
            if (batch.isClosed()) {
                return batch;
            }
            DataBatch again = done.get(batch);
            if (again == null) {
                again = batchByReference(batch, referenced, step);
                if (again != batch) {
                    made.add(again);
                }
                done.put(batch, again);
            }
            return again;
        });
    }

    /** {@code batch} itself, or a new batch in which its {@code referenced} tensors travel as references. */
    private DataBatch batchByReference(DataBatch batch, Set<Tensor> referenced, long step) {
        boolean any = false;
        for (String key : batch.tensorKeys()) {
            any |= referenced.contains(batch.tensor(key));
        }
        if (!any) {
            return batch;
        }
        List<Tensor> owned = new ArrayList<>();
        try {
            DataBatch.Builder builder = DataBatch.builder(allocator);
            for (String key : batch.tensorKeys()) {
                Tensor t = batch.tensor(key);
                if (!referenced.contains(t)) {
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
