package io.yatt.controller.internal.runtime;

import io.aeron.Aeron;
import io.aeron.AeronCounters;
import io.aeron.ExclusivePublication;
import io.aeron.ControlledFragmentAssembler;
import io.aeron.Subscription;
import io.aeron.logbuffer.ControlledFragmentHandler;
import io.aeron.logbuffer.Header;
import io.yatt.controller.ControlPlane;
import io.yatt.controller.CallTimeoutException;
import io.yatt.controller.WorkerLostException;
import io.yatt.controller.internal.wire.FrameAdapter;
import io.yatt.controller.internal.wire.FrameCounters;
import io.yatt.controller.internal.wire.FrameDecoder;
import io.yatt.controller.internal.wire.FrameTag;
import io.yatt.controller.internal.wire.FrameValidator;
import io.yatt.controller.internal.wire.Message;
import io.yatt.controller.internal.wire.MessageHandler;
import io.yatt.controller.internal.wire.PayloadCodec;
import io.yatt.controller.internal.wire.Reassembly;
import io.yatt.controller.internal.wire.WorkerProxy;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Supplier;
import org.agrona.CloseHelper;
import org.agrona.DirectBuffer;
import org.agrona.concurrent.status.CountersReader;
import org.agrona.concurrent.Agent;
import org.agrona.concurrent.IdleStrategy;

/**
 * The controller's duty cycle: polls the control stream (registrations, heartbeats, results, errors from workers),
 * answers registrations (challenging them with a nonce when a shared secret is set), and fails the calls of workers
 * whose last frame is older than the heartbeat timeout. Callers start calls from their own threads through
 * {@link #invoke}, and a caller that waits for one polls the control stream itself ({@link #await}): whichever thread
 * holds the poll lock reads the stream, so an answer needs no hand-off from the agent to the caller. Registrations are
 * left to the agent's thread, and so is every other Aeron client call that needs the client conductor under INVOKER
 * threading ({@link #onAgentThread}): the agent alone runs the driver and the conductor. With a shared secret, every
 * frame after a worker's registration carries a MAC under a key derived from its challenge ({@link FrameTag}); one
 * that does not verify is counted and dropped undecoded. The links of a controller mesh ({@link PeerLinks}) heartbeat
 * the other controllers and watch theirs in the agent's duty cycle.
 */
public final class ControllerAgent implements Agent, MessageHandler {

    /** Fragments read per duty cycle. */
    static final int FRAGMENT_LIMIT = 16;
    /** Bytes of a registration nonce. */
    static final int NONCE_BYTES = 32;
    /**
     * How long a caller waiting with the back-off strategy polls before it parks on the call's future (and leaves the
     * stream to the agent): a fast answer is caught by polling, a long call costs no more than one wake-up.
     */
    static final long CALLER_POLL_NS = TimeUnit.MILLISECONDS.toNanos(1);

    private final long controllerId;
    private final Aeron aeron;
    private final Subscription subscription;
    private final ControlledFragmentAssembler assembler;
    private final FrameAdapter adapter;
    /** Held by the thread that polls the subscription: the agent, or a caller waiting for its call. */
    private final ReentrantLock pollLock = new ReentrantLock();
    /** Set (under the poll lock) while a caller polls: registrations then stay in the stream for the agent. */
    private boolean callerPolling;
    /** A caller met a registration it left for the agent: callers stop polling until the agent has polled. */
    private volatile boolean agentPollNeeded;
    /**
     * Callers polling for their calls now: the agent then leaves the stream to them, so a waiting caller never finds
     * the poll lock held by an agent thread the scheduler has just preempted.
     */
    private final AtomicInteger pollingCallers = new AtomicInteger();
    private final ControlPlane.Idle idle;
    /** Cancels that could not be sent: retried each duty cycle and sent before any later frame to their worker. */
    private final ConcurrentLinkedQueue<UnsentCancel> unsentCancels = new ConcurrentLinkedQueue<>();
    /**
     * Aeron client calls (adding and closing publications) that other threads leave to the agent under INVOKER
     * threading; run in order, each duty cycle.
     */
    private final ConcurrentLinkedQueue<AgentTask<?>> agentTasks = new ConcurrentLinkedQueue<>();
    /**
     * Processes of this host that exited, as their launcher reported them (any thread adds, the liveness check reads):
     * a worker that registered from one of them is lost.
     */
    private final Set<ExitedProcess> exited = ConcurrentHashMap.newKeySet();

    /** A process that exited: its pid and host. */
    private record ExitedProcess(long pid, String host) {
    }
    /** Set when the agent stops: tasks then fail instead of waiting for a duty cycle that never comes. */
    private volatile boolean agentClosed;
    /** Opens the frames of peer controllers (null without a secret); under the poll lock. */
    private final FrameTag peerTag;
    /** Sequence number of the last peer frame accepted, per controller index; under the poll lock. */
    private long[] peerSequences = new long[0];
    private final FrameCounters counters = new FrameCounters();
    private final AeronTransport transport;
    private final PayloadCodec payloads;
    private final byte[] secret;
    private final long heartbeatIntervalNs;
    private final long heartbeatTimeoutNs;
    /** How long a call may run once sent before it fails with {@link CallTimeoutException}; MAX_VALUE: no deadline. */
    private final long callTimeoutNs;
    private final long sendTimeoutNs;
    private final SecureRandom random = new SecureRandom();
    private final AtomicLong correlationIds = new AtomicLong();

    private final Map<Integer, WorkerSession> workers = new ConcurrentHashMap<>();
    private final Map<Long, PendingCall> calls = new ConcurrentHashMap<>();
    private final Map<Integer, WorkerSession> bySession = new HashMap<>();
    /** Registrations not yet accepted (challenged, or being answered), by session: bounded and expiring. */
    private final Map<Integer, Pending> pending = new ConcurrentHashMap<>();
    private final int maxPendingRegistrations;
    private final long pendingRegistrationTimeoutNs;
    private long nextLivenessCheckNs;
    private volatile PeerLinks peers;
    private long nextHeartbeatNs;
    private volatile Thread agentThread;

    /**
     * An agent reading {@code subscription} (and running the transport's invoker, if any); {@code secret} null means
     * registrations are not authenticated. At most {@code maxPendingRegistrations} registrations wait for their
     * answer to a challenge at a time, each for at most {@code pendingRegistrationTimeoutNs}.
     */
    public ControllerAgent(long controllerId, AeronTransport transport, Subscription subscription, PayloadCodec payloads,
                           byte[] secret, long heartbeatIntervalNs, long heartbeatTimeoutNs, long sendTimeoutNs,
                           long callTimeoutNs, int maxPendingRegistrations, long pendingRegistrationTimeoutNs,
                           ControlPlane.Idle idle) {
        this.maxPendingRegistrations = maxPendingRegistrations;
        this.pendingRegistrationTimeoutNs = pendingRegistrationTimeoutNs;
        this.idle = idle;
        this.controllerId = controllerId;
        this.aeron = transport.aeron();
        this.transport = transport;
        this.subscription = subscription;
        this.payloads = payloads;
        this.secret = secret == null ? null : secret.clone();
        this.heartbeatIntervalNs = heartbeatIntervalNs;
        this.heartbeatTimeoutNs = heartbeatTimeoutNs;
        this.sendTimeoutNs = sendTimeoutNs;
        this.callTimeoutNs = callTimeoutNs;
        this.peerTag = secret == null ? null : FrameTag.of(Hmac.peerKey(secret, controllerId));
        this.adapter = new FrameAdapter(new FrameDecoder(payloads), this, counters,
                secret == null ? FrameAdapter.Gate.OPEN : this::admit);
        this.assembler = Reassembly.controlled(this::onFragment);
    }

    @Override
    public String roleName() {
        return "yatt-controller";
    }

    public long controllerId() {
        return controllerId;
    }

    public FrameCounters counters() {
        return counters;
    }

    /** The payload codec of this controller (its byte counters). */
    public PayloadCodec payloads() {
        return payloads;
    }

    /** Registered workers (alive or lost), in no particular order. */
    public List<WorkerSession> workers() {
        return List.copyOf(workers.values());
    }

    @Override
    public void onStart() {
        agentThread = Thread.currentThread();
        transport.owner(agentThread);
    }

    /**
     * Reads up to {@link #FRAGMENT_LIMIT} fragments if no other thread is reading; a caller leaves registrations (and
     * everything behind them) to the agent.
     */
    private int poll(boolean caller) {
        if (caller && agentPollNeeded) {
            return 0;
        }
        if (!pollLock.tryLock()) {
            return 0;
        }
        try {
            callerPolling = caller;
            int fragments = subscription.controlledPoll(assembler, FRAGMENT_LIMIT);
            if (!caller) {
                agentPollNeeded = false;
            }
            return fragments;
        } finally {
            callerPolling = false;
            pollLock.unlock();
        }
    }

    private ControlledFragmentHandler.Action onFragment(DirectBuffer buffer, int offset, int length, Header header) {
        if (callerPolling && FrameValidator.templateId(buffer, offset, length) == FrameValidator.REGISTER_TEMPLATE_ID) {
            // a registration creates a publication: only the agent's thread may (it runs an INVOKER driver)
            agentPollNeeded = true;
            return ControlledFragmentHandler.Action.ABORT;
        }
        adapter.onFrame(buffer, offset, length, header.sessionId());
        return ControlledFragmentHandler.Action.CONTINUE;
    }

    /**
     * With a shared secret: a registration passes as it is (its challenge authenticates it), a worker's frame must
     * open under its session's key, a peer controller's under this controller's peer key (its sequence number is
     * checked per claimed index once decoded).
     */
    private int admit(DirectBuffer buffer, int offset, int length, int templateId, int sessionId) {
        if (!FrameTag.sealed(templateId)) {
            return length;
        }
        if (FrameValidator.peerFrame(templateId)) {
            FrameTag tag = peerTag;
            return tag == null ? FrameTag.NOT_AUTHENTIC : tag.verify(buffer, offset, length);
        }
        WorkerSession s = bySession.get(sessionId);
        return s == null || s.inbound() == null ? FrameTag.NOT_AUTHENTIC : s.inbound().open(buffer, offset, length);
    }

    /** Whether the peer frame just verified is newer than the last from controller {@code index} (not a replay). */
    private boolean freshFromPeer(int index) {
        if (peerTag == null) {
            return true;
        }
        long sequence = peerTag.verifiedSequence();
        if (sequence <= peerSequences[index]) {
            return false;
        }
        peerSequences[index] = sequence;
        return true;
    }

    /**
     * Waits for a call's {@code future} on the calling thread, polling the control stream with the plane's idle
     * strategy (so the answer completes the future here, without waking another thread): spinning or yielding until
     * it completes, or, with the back-off strategy, for {@link #CALLER_POLL_NS} before parking on the future while
     * the agent polls. A thread that is polling already (a callback of a completing call) just waits.
     *
     * @return the future's value
     * @throws ExecutionException if the call failed
     * @throws TimeoutException if it did not complete within {@code timeoutNs}
     * @throws InterruptedException if interrupted
     */
    public <T> T await(CompletableFuture<T> future, long timeoutNs)
            throws InterruptedException, ExecutionException, TimeoutException {
        long startNs = System.nanoTime();
        if (!future.isDone() && !pollLock.isHeldByCurrentThread() && Thread.currentThread() != agentThread) {
            IdleStrategy strategy = Idles.strategy(idle);
            pollingCallers.incrementAndGet();
            try {
                while (!future.isDone()) {
                    long elapsedNs = System.nanoTime() - startNs;
                    if (elapsedNs >= timeoutNs) {
                        throw new TimeoutException();
                    }
                    if ((idle == ControlPlane.Idle.BACKOFF || idle == ControlPlane.Idle.WINDOWED_BACKOFF)
                            && elapsedNs > CALLER_POLL_NS) {
                        break;
                    }
                    if (Thread.interrupted()) {
                        throw new InterruptedException();
                    }
                    // under INVOKER threading the caller also runs the driver: over udp its sender and receiver
                    // carry the invoke and the answer without waiting for the agent thread
                    strategy.idle(poll(true) + transport.invokeDriver());
                }
            } finally {
                pollingCallers.decrementAndGet();
            }
        }
        if (future.isDone()) {
            return future.get();
        }
        return future.get(timeoutNs - (System.nanoTime() - startNs), TimeUnit.NANOSECONDS);
    }

    /**
     * A cancel ({@code abortReason} null) or an abort that did not go; see {@link #sendCancel} and
     * {@link #abortFromAgent}.
     */
    private record UnsentCancel(WorkerSession target, long correlationId, String abortReason) {
        boolean sendNow(long controllerId) {
            return abortReason == null ? target.proxy().cancelNow(correlationId, controllerId)
                    : target.proxy().abortNow(controllerId, abortReason);
        }

        boolean send(long controllerId) {
            return abortReason == null ? target.proxy().cancel(correlationId, controllerId)
                    : target.proxy().abort(controllerId, abortReason);
        }
    }

    /**
     * Sends an abort from the agent's thread, which must never wait on a send (the heartbeats it checks and sends would
     * stall, and a back-pressured worker get others declared lost): at once if the stream takes it without waiting,
     * otherwise kept and retried every duty cycle with the kept cancels, in order.
     */
    private void abortFromAgent(WorkerSession target, String reason) {
        boolean sent;
        try {
            sent = unsentCancels.isEmpty() && target.proxy().abortNow(controllerId, reason);
        } catch (RuntimeException e) {
            sent = false;
        }
        if (!sent) {
            unsentCancels.add(new UnsentCancel(target, 0, reason));
        }
    }

    /**
     * Sends a cancel; one that does not go (back pressure, a subscriber not connected yet) is kept and retried every
     * duty cycle until it goes or the worker is lost, so a call the worker queued waiting for its input never holds
     * its later calls.
     */
    private void sendCancel(WorkerSession target, long correlationId) {
        if (target.lost() != null) {
            return;
        }
        flushCancels(target);
        boolean sent;
        try {
            sent = target.proxy().cancel(correlationId, controllerId);
        } catch (RuntimeException e) {
            sent = false;
        }
        if (!sent) {
            unsentCancels.add(new UnsentCancel(target, correlationId, null));
        }
    }

    /** Sends the kept cancels of {@code target} (waiting up to the send timeout each), before a frame to it. */
    private void flushCancels(WorkerSession target) {
        if (unsentCancels.isEmpty()) {
            return;
        }
        for (UnsentCancel c : unsentCancels) {
            if (c.target() == target && target.lost() == null && c.send(controllerId)) {
                unsentCancels.remove(c);
            }
        }
    }

    /** The agent's retry of kept cancels: each is offered once, without waiting; dropped when its worker is lost. */
    private int retryCancels() {
        if (unsentCancels.isEmpty()) {
            return 0;
        }
        int sent = 0;
        for (UnsentCancel c : unsentCancels) {
            if (c.target().lost() != null) {
                unsentCancels.remove(c);
            } else if (c.sendNow(controllerId)) {
                unsentCancels.remove(c);
                sent++;
            }
        }
        return sent;
    }

    /** Cancels and aborts kept for a retry (none once they are all sent). */
    public int unsentCancels() {
        return unsentCancels.size();
    }

    /** An Aeron client call left to the agent's thread, and its outcome. */
    private record AgentTask<T>(String what, Supplier<T> call, CompletableFuture<T> done) {
        void run() {
            try {
                done.complete(call.get());
            } catch (RuntimeException | Error e) {
                done.completeExceptionally(e);
            }
        }
    }

    /**
     * Runs {@code call}, an Aeron client call that needs the client conductor ({@code what} names it: adding or
     * closing a publication or subscription), where it cannot race the driver: under INVOKER threading on the agent's
     * thread, which alone runs the driver and the conductor (so another thread waits for the agent's next duty cycle,
     * up to the send timeout); with driver threads of its own, or on the agent's thread, right here.
     *
     * @return what {@code call} returned
     * @throws IllegalStateException if the agent has stopped, or did not get to the call within the send timeout
     * @throws RuntimeException what {@code call} threw
     */
    public <T> T onAgentThread(String what, Supplier<T> call) {
        if (!transport.invoked() || Thread.currentThread() == agentThread) {
            return call.get();
        }
        AgentTask<T> task = new AgentTask<>(what, call, new CompletableFuture<>());
        agentTasks.add(task);
        if (agentClosed) {
            failTasks();
        }
        // waits out an interrupt (the wait is bounded): a call given up while the agent runs it would leak what it adds
        boolean interrupted = false;
        long deadlineNs = System.nanoTime() + sendTimeoutNs;
        try {
            while (true) {
                try {
                    long leftNs = deadlineNs - System.nanoTime();
                    if (leftNs <= 0 && agentTasks.remove(task)) {
                        throw new IllegalStateException("controller agent did not run " + what + ": controllerId="
                                + controllerId + ", timeoutMs=" + TimeUnit.NANOSECONDS.toMillis(sendTimeoutNs));
                    }
                    // once the agent took the call, it is waited for to the end
                    return leftNs <= 0 ? task.done().get() : task.done().get(leftNs, TimeUnit.NANOSECONDS);
                } catch (InterruptedException e) {
                    interrupted = true;
                } catch (TimeoutException e) {
                    // the deadline passed: the next round gives it up, unless the agent has taken it
                }
            }
        } catch (ExecutionException e) {
            if (e.getCause() instanceof RuntimeException re) {
                throw re;
            }
            if (e.getCause() instanceof Error err) {
                throw err;
            }
            throw new IllegalStateException(what + " failed: controllerId=" + controllerId, e.getCause());
        } finally {
            if (interrupted) {
                Thread.currentThread().interrupt();
            }
        }
    }

    private int runTasks() {
        int work = 0;
        for (AgentTask<?> task = agentTasks.poll(); task != null; task = agentTasks.poll()) {
            task.run();
            work++;
        }
        return work;
    }

    private void failTasks() {
        for (AgentTask<?> task = agentTasks.poll(); task != null; task = agentTasks.poll()) {
            task.done().completeExceptionally(new IllegalStateException("control plane closed: controllerId="
                    + controllerId + ", call=" + task.what()));
        }
    }

    @Override
    public int doWork() {
        if (!agentTasks.isEmpty()) {
            runTasks();
        }
        if (transport.aeron().isClosed()) {
            if (!calls.isEmpty()) {
                IllegalStateException lost = new IllegalStateException("media driver lost: directory="
                        + transport.directory() + ", controllerId=" + controllerId);
                for (PendingCall call : new ArrayList<>(calls.values())) {
                    call.fail(lost);
                }
            }
            return 0;
        }
        int work = transport.invoke();
        if (pollingCallers.get() == 0 || agentPollNeeded) {
            work += poll(false);
        }
        work += retryCancels();
        long nowNs = System.nanoTime();
        if (nowNs - nextLivenessCheckNs >= 0) {
            nextLivenessCheckNs = nowNs + Math.max(1, heartbeatIntervalNs / 4);
            work += checkLiveness(nowNs);
            work += expirePending(nowNs);
        }
        PeerLinks mesh = peers;
        if (mesh != null) {
            work += mesh.duty(nowNs);
        }
        if (nowNs - nextHeartbeatNs >= 0) {
            nextHeartbeatNs = nowNs + heartbeatIntervalNs;
            for (WorkerSession s : workers.values()) {
                if (reachable(s)) {
                    s.proxy().heartbeat(s.registration().workerId(), nowNs);
                    work++;
                }
            }
        }
        return work;
    }

    /**
     * Records that process {@code pid} of {@code host} exited: the workers that registered from it are lost at the next
     * liveness check instead of after the heartbeat timeout. Any thread.
     */
    public void processExited(long pid, String host) {
        exited.add(new ExitedProcess(pid, host));
    }

    private int checkLiveness(long nowNs) {
        int lostNow = 0;
        for (WorkerSession session : workers.values()) {
            long ageNs = nowNs - session.lastSeenNs();
            if (session.lost() == null && (ageNs > heartbeatTimeoutNs || (!exited.isEmpty()
                    && exited.contains(new ExitedProcess(session.registration().pid(),
                            session.registration().host()))))) {
                Message.Register r = session.registration();
                WorkerLostException e = new WorkerLostException(r.roles(), r.rank(), r.pid(), r.host(), ageNs,
                        heartbeatTimeoutNs);
                session.lost(e);
                // the aborts go out before any caller learns of the loss (as on a timeout): a call it makes next, to
                // the survivors, then reaches them after the abort and is not aborted with the calls in flight
                abortPeersOf(session, e);
                for (PendingCall call : calls.values()) {
                    if (call.involves(session)) {
                        call.fail(e);
                    }
                }
                lostNow++;
            }
        }
        for (PendingCall call : calls.values()) {
            if (call.overdue(nowNs)) {
                timeOut(call, nowNs);
                lostNow++;
            }
        }
        return lostNow;
    }

    /**
     * Fails a call past its deadline, naming the workers that have not answered, and aborts them and the workers
     * sharing their roles: the hung method is interrupted and no peer stays in a collective with it.
     */
    private void timeOut(PendingCall call, long nowNs) {
        List<WorkerSession> late = call.unanswered();
        List<CallTimeoutException.Unanswered> named = new ArrayList<>();
        for (WorkerSession s : late) {
            Message.Register r = s.registration();
            named.add(new CallTimeoutException.Unanswered(r.rank(), r.pid(), r.host(), nowNs - s.lastSeenNs()));
        }
        named.sort(Comparator.comparingInt(CallTimeoutException.Unanswered::rank));
        CallTimeoutException e = new CallTimeoutException(call.group(), call.method(), callTimeoutNs, named);
        // answers to the call are dropped from here on (the abort makes the late workers answer with an error), and
        // the aborts are sent before the caller learns of the timeout, so a call it makes next is not aborted too
        calls.remove(call.correlationId());
        List<String> roles = new ArrayList<>();
        for (WorkerSession s : late) {
            roles.addAll(s.registration().roles());
        }
        for (WorkerSession s : workers.values()) {
            if (reachable(s) && s.registration().roles().stream().anyMatch(roles::contains)) {
                abortFromAgent(s, e.getMessage());
            }
        }
        call.fail(e);
    }

    /**
     * Sends abort to every live worker that shares a role with {@code lost}: their calls in flight are interrupted
     * and their registered communicators aborted, so no peer of the lost worker hangs in a collective.
     */
    private void abortPeersOf(WorkerSession lost, WorkerLostException cause) {
        List<String> roles = lost.registration().roles();
        for (WorkerSession s : workers.values()) {
            if (s != lost && reachable(s) && s.registration().roles().stream().anyMatch(roles::contains)) {
                abortFromAgent(s, cause.getMessage());
            }
        }
    }

    @Override
    public Outcome onMessage(Message message, int sessionId) {
        return switch (message) {
            case Message.Register r -> onRegister(r, sessionId);
            case Message.Heartbeat h -> {
                WorkerSession s = sender(h.workerId(), sessionId);
                if (s == null) {
                    yield Outcome.UNAUTHENTICATED;
                }
                s.seen(System.nanoTime());
                yield Outcome.APPLIED;
            }
            case Message.Result r -> {
                WorkerSession s = sender(r.workerId(), sessionId);
                if (s == null) {
                    yield Outcome.UNAUTHENTICATED;
                }
                s.seen(System.nanoTime());
                PendingCall call = calls.get(r.correlationId());
                if (call == null || !call.result(r.rank(), s, r.value())) {
                    Batches.close(r.value());
                    yield Outcome.DROPPED;
                }
                yield Outcome.APPLIED;
            }
            case Message.Error e -> {
                WorkerSession s = sender(e.workerId(), sessionId);
                if (s == null) {
                    yield Outcome.UNAUTHENTICATED;
                }
                s.seen(System.nanoTime());
                PendingCall call = calls.get(e.correlationId());
                if (call == null || !call.error(e.rank(), s, e.type(), e.message())) {
                    yield Outcome.DROPPED;
                }
                yield Outcome.APPLIED;
            }
            case Message.StepBarrier b -> {
                PeerInbox inbox = peerInbox(b.controllerId(), b.controllerIndex(), b.controllerCount());
                if (inbox == null) {
                    yield Outcome.UNAUTHENTICATED;
                }
                inbox.barrier(b);
                yield Outcome.APPLIED;
            }
            case Message.MetricReduction m -> {
                PeerInbox inbox = peerInbox(m.controllerId(), m.controllerIndex(), m.controllerCount());
                if (inbox == null) {
                    yield Outcome.UNAUTHENTICATED;
                }
                inbox.reduction(m);
                yield Outcome.APPLIED;
            }
            case Message.PeerHeartbeat h -> {
                if (peers == null) {
                    // a peer that joined before this controller did, or still heartbeats after it left: nothing to do
                    yield Outcome.APPLIED;
                }
                PeerInbox inbox = peerInbox(h.controllerId(), h.controllerIndex(), h.controllerCount());
                if (inbox == null) {
                    yield Outcome.UNAUTHENTICATED;
                }
                inbox.heartbeat(h);
                yield Outcome.APPLIED;
            }
            default -> Outcome.DROPPED;
        };
    }

    /**
     * The inbox of the mesh if a peer frame claiming {@code index} of {@code count} with {@code id} comes from a
     * controller of it and is not a replay (null otherwise); the sender counts as heard from now.
     */
    private PeerInbox peerInbox(long id, int index, int count) {
        PeerLinks mesh = peers;
        if (mesh == null || !mesh.inbox().fromPeer(id, index, count) || !freshFromPeer(index)) {
            return null;
        }
        mesh.inbox().seen(index, System.nanoTime());
        return mesh.inbox();
    }

    /**
     * Accepts step barriers, metric reductions and heartbeats from the controllers of {@code links} from now on (with
     * a shared secret, only those whose MAC verifies under this controller's peer key), and runs the links' duty
     * (heartbeats, liveness) every cycle; null stops both.
     */
    public void peers(PeerLinks links) {
        pollLock.lock();
        try {
            peerSequences = new long[links == null ? 0 : links.inbox().count()];
            this.peers = links;
        } finally {
            pollLock.unlock();
        }
    }

    /** The MAC of frames this controller sends to the controller {@code peerId}; null without a shared secret. */
    public FrameTag peerSealer(long peerId) {
        return secret == null ? null : FrameTag.of(Hmac.peerKey(secret, peerId));
    }

    /** The transport (for publications to peer controllers). */
    public AeronTransport transport() {
        return transport;
    }

    public long sendTimeoutNs() {
        return sendTimeoutNs;
    }

    private WorkerSession sender(int workerId, int sessionId) {
        WorkerSession s = bySession.get(sessionId);
        return s != null && s.registration().workerId() == workerId && s.lost() == null ? s : null;
    }

    /**
     * Accepts, challenges or refuses a registration. A repeated registration without a MAC (the worker retries
     * until answered) gets the same nonce again, so its answer verifies; a nonce is dropped once a MAC is checked.
     */
    private Outcome onRegister(Message.Register r, int sessionId) {
        WorkerSession existing = workers.get(r.workerId());
        if (existing != null && existing.lost() != null && existing.sessionId() != sessionId) {
            // a replacement for a lost worker (a resume): the lost session is forgotten
            workers.remove(r.workerId(), existing);
            bySession.remove(existing.sessionId(), existing);
            CloseHelper.quietClose(existing.publication());
            existing = null;
        }
        if (existing != null) {
            if (existing.sessionId() == sessionId && existing.lost() == null) {
                existing.proxy().registerAck(controllerId, r.workerId(), Message.AckStatus.ACCEPTED,
                        heartbeatIntervalNs, new byte[0], "");
                return Outcome.APPLIED;
            }
            return Outcome.DROPPED;
        }
        if (!r.replyChannel().startsWith("aeron:ipc") && !r.replyChannel().startsWith("aeron:udp")) {
            return Outcome.DROPPED;
        }
        long nowNs = System.nanoTime();
        Pending waiting = pending.get(sessionId);
        if (waiting == null) {
            expirePending(nowNs);
            if (pending.size() >= maxPendingRegistrations) {
                // a flood of unauthenticated registrations: no publication, no nonce, counted
                return Outcome.UNAUTHENTICATED;
            }
            waiting = new Pending(aeron.addExclusivePublication(r.replyChannel(), r.replyStreamId()),
                    nowNs + pendingRegistrationTimeoutNs);
            pending.put(sessionId, waiting);
        }
        ExclusivePublication reply = waiting.publication;
        WorkerProxy proxy = new WorkerProxy(payloads, new PublicationSink(transport, reply, sendTimeoutNs));
        FrameTag inbound = null;
        FrameTag outbound = null;
        byte[] verifiedNonce = null;
        if (secret != null) {
            if (r.mac().length == 0) {
                if (waiting.nonce == null) {
                    waiting.nonce = new byte[NONCE_BYTES];
                    random.nextBytes(waiting.nonce);
                }
                proxy.registerAck(controllerId, r.workerId(), Message.AckStatus.CHALLENGE, heartbeatIntervalNs,
                        waiting.nonce, "");
                return Outcome.APPLIED;
            }
            byte[] nonce = waiting.nonce;
            waiting.nonce = null;
            if (nonce == null || !Hmac.verify(secret, nonce, r.workerId(), r.rank(), r.mac())) {
                proxy.registerAck(controllerId, r.workerId(), Message.AckStatus.REFUSED, heartbeatIntervalNs,
                        new byte[0], "authentication failed");
                CloseHelper.quietClose(pending.remove(sessionId).publication);
                return Outcome.UNAUTHENTICATED;
            }
            verifiedNonce = nonce;
            inbound = FrameTag.of(Hmac.sessionKey(secret, Hmac.WORKER_TO_CONTROLLER, nonce, r.workerId(), r.rank()));
            outbound = FrameTag.of(Hmac.sessionKey(secret, Hmac.CONTROLLER_TO_WORKER, nonce, r.workerId(), r.rank()));
        }
        for (WorkerSession other : workers.values()) {
            Message.Register o = other.registration();
            if (other.lost() == null && o.rank() == r.rank()
                    && o.roles().stream().anyMatch(r.roles()::contains)) {
                proxy.registerAck(controllerId, r.workerId(), Message.AckStatus.REFUSED, heartbeatIntervalNs,
                        new byte[0], "rank already registered: rank=" + r.rank() + ", roles=" + r.roles()
                                + ", workerId=" + o.workerId());
                CloseHelper.quietClose(pending.remove(sessionId).publication);
                return Outcome.DROPPED;
            }
        }
        if (outbound != null) {
            proxy.seal(outbound);
        }
        // The ack goes out before the session is seen: a caller that finds the worker (a group forming) may send it an
        // invoke at once, and a worker drops every frame before its ack. Its stream keeps that order.
        if (!proxy.registerAck(controllerId, r.workerId(), Message.AckStatus.ACCEPTED, heartbeatIntervalNs,
                new byte[0], "")) {
            // not taken within the send timeout: the registration stays pending and the worker's retry is answered
            waiting.nonce = verifiedNonce;
            return Outcome.APPLIED;
        }
        pending.remove(sessionId);
        WorkerSession session = new WorkerSession(r, sessionId, reply, proxy, System.nanoTime(), inbound);
        bySession.put(sessionId, session);
        workers.put(r.workerId(), session);
        return Outcome.APPLIED;
    }

    /** Forgets the registrations whose challenge is older than the timeout, closing their publications. */
    private int expirePending(long nowNs) {
        int expired = 0;
        for (var it = pending.values().iterator(); it.hasNext(); ) {
            Pending p = it.next();
            if (nowNs - p.expiresNs > 0) {
                CloseHelper.quietClose(p.publication);
                it.remove();
                expired++;
            }
        }
        return expired;
    }

    /** Registrations waiting for their answer to a challenge (or being answered), for tests and stats. */
    public int pendingRegistrations() {
        return pending.size();
    }

    /** A registration not yet accepted: the publication to its reply channel and the nonce it was challenged with. */
    private static final class Pending {
        final ExclusivePublication publication;
        final long expiresNs;
        byte[] nonce;

        Pending(ExclusivePublication publication, long expiresNs) {
            this.publication = publication;
            this.expiresNs = expiresNs;
        }
    }

    /**
     * Sends one invoke per non-null {@code args} element to {@code targets} (same index) and returns the per-rank
     * results. Called from any thread.
     */
    public CompletableFuture<List<Object>> invoke(String group, String method, String dispatchMode, long step,
                                                  WorkerSession[] targets, List<Object[]> args) {
        return invoke(correlationIds.incrementAndGet(), group, method, dispatchMode, step, targets, args);
    }

    /** {@link #invoke(String, String, String, long, WorkerSession[], List)} under an id from {@link #newCall()}. */
    public CompletableFuture<List<Object>> invoke(long correlationId, String group, String method, String dispatchMode,
                                                  long step, WorkerSession[] targets, List<Object[]> args) {
        return start(correlationId, group, method, dispatchMode, step, targets, args, false);
    }

    /** A fresh correlation id, for a caller that needs to know its call's id (to cancel it) before it starts. */
    public long newCall() {
        return correlationIds.incrementAndGet();
    }

    /**
     * Asks every worker of the call {@code correlationId} (all its ranks, answered or not, so that no rank stays in a
     * collective its peers left) to cancel it; the call stays pending and completes with the workers' answers: a
     * {@link CancellationException} from the first rank that was cancelled, or the results of ranks that finished
     * first. Called from any thread.
     *
     * @return false if no such call is pending (it completed, or its inputs have not been sent yet)
     */
    public boolean cancel(long correlationId) {
        PendingCall call = calls.get(correlationId);
        if (call == null) {
            return false;
        }
        call.markCancelSent();
        for (WorkerSession target : call.called()) {
            if (target.lost() == null) {
                sendCancel(target, correlationId);
            }
        }
        return true;
    }

    /**
     * Announces a call whose arguments are not known yet: every target queues an invoke that waits for
     * {@link #provide}. Called from any thread.
     *
     * @return the call's correlation id
     * @throws WorkerLostException if a target is lost
     * @throws IllegalStateException if an invoke could not be sent (the targets already reached are cancelled)
     */
    public long announce(String group, String method, String dispatchMode, long step, WorkerSession[] targets) {
        long correlationId = correlationIds.incrementAndGet();
        for (int i = 0; i < targets.length; i++) {
            RuntimeException failure = targets[i].lost();
            if (failure == null) {
                flushCancels(targets[i]);
            }
            if (failure == null && !targets[i].proxy().invokeAwaitingInput(correlationId, controllerId, step, group,
                    method, dispatchMode)) {
                failure = notSent("invoke", group, method, targets[i]);
            }
            if (failure != null) {
                abandon(correlationId, Arrays.copyOf(targets, i));
                throw failure;
            }
        }
        return correlationId;
    }

    /**
     * Sends the arguments of an announced call to its targets ({@code null}: the target is skipped) and returns the
     * per-rank results. Called from any thread.
     */
    public CompletableFuture<List<Object>> provide(long correlationId, String group, String method,
                                                   WorkerSession[] targets, List<Object[]> args) {
        return start(correlationId, group, method, null, 0L, targets, args, true);
    }

    /**
     * Gives up an announced call: its targets drop the waiting invoke, and its results, if awaited, fail with
     * {@link CancellationException}. Called from any thread.
     */
    public void abandon(long correlationId, WorkerSession[] targets) {
        for (WorkerSession target : targets) {
            if (target.lost() == null) {
                sendCancel(target, correlationId);
            }
        }
        PendingCall call = calls.remove(correlationId);
        if (call != null) {
            call.fail(new CancellationException("call abandoned: correlationId=" + correlationId));
        }
    }

    private CompletableFuture<List<Object>> start(long correlationId, String group, String method,
                                                  String dispatchMode, long step, WorkerSession[] targets,
                                                  List<Object[]> args, boolean announced) {
        WorkerSession[] called = new WorkerSession[targets.length];
        for (int i = 0; i < targets.length; i++) {
            if (args.get(i) != null) {
                called[i] = targets[i];
                if (targets[i].lost() != null) {
                    if (announced) {
                        abandon(correlationId, targets);
                    }
                    return CompletableFuture.failedFuture(targets[i].lost());
                }
            }
        }
        if (allNull(called)) {
            if (announced) {
                for (WorkerSession target : targets) {
                    if (target.lost() == null && !target.proxy().input(correlationId, controllerId, null)) {
                        // a skip that does not arrive would hold the worker's queue: a kept cancel releases it
                        sendCancel(target, correlationId);
                    }
                }
            }
            return CompletableFuture.completedFuture(Arrays.asList(new Object[targets.length]));
        }
        PendingCall call = new PendingCall(correlationId, group, method, called, System.nanoTime(), callTimeoutNs);
        calls.put(correlationId, call);
        call.future().whenComplete((v, e) -> {
            calls.remove(correlationId);
            if (e instanceof CancellationException && !call.cancelSent()) {
                for (WorkerSession target : called) {
                    if (target != null && target.lost() == null) {
                        sendCancel(target, correlationId);
                    }
                }
            }
        });
        for (WorkerSession target : called) {
            if (target != null && target.lost() != null) {
                call.fail(target.lost());
                return call.future();
            }
        }
        for (int i = 0; i < targets.length; i++) {
            if (called[i] == null && (!announced || targets[i].lost() != null)) {
                continue;
            }
            RuntimeException failure = null;
            flushCancels(targets[i]);
            try {
                List<Object> workerArgs = called[i] == null ? null : Arrays.asList(args.get(i));
                boolean sent = announced ? targets[i].proxy().input(correlationId, controllerId, workerArgs)
                        : targets[i].proxy().invoke(correlationId, controllerId, step, group, method, dispatchMode,
                                workerArgs);
                if (!sent) {
                    // a skip that does not arrive would hold the worker's queue as surely as a lost input
                    failure = notSent(announced ? "input" : "invoke", group, method, targets[i]);
                }
            } catch (RuntimeException e) {
                failure = e;
            }
            if (failure != null) {
                call.fail(failure);
                if (announced) {
                    abandon(correlationId, targets);
                }
                break;
            }
        }
        return call.future();
    }

    private static boolean reachable(WorkerSession target) {
        return target.lost() == null && target.publication().isConnected();
    }

    private IllegalStateException notSent(String frame, String group, String method, WorkerSession target) {
        Message.Register r = target.registration();
        return new IllegalStateException(frame + " not sent: group=" + group + ", method=" + method + ", rank="
                + r.rank() + ", workerId=" + r.workerId() + ", reason=" + PublicationSink.failure(target.publication())
                + ", timeoutMs=" + sendTimeoutNs / 1_000_000);
    }

    private static boolean allNull(WorkerSession[] sessions) {
        for (WorkerSession s : sessions) {
            if (s != null) {
                return false;
            }
        }
        return true;
    }

    /**
     * Fails every call in flight with {@code cause}, then sends abort to every live worker. In that order: a worker
     * answers an abort with the error of the method it stopped, and a caller reading that answer first would report
     * the worker's error instead of the abort.
     */
    public void abort(String reason, RuntimeException cause) {
        for (PendingCall call : new ArrayList<>(calls.values())) {
            // the abort stops the call on every worker: no cancel of its own
            call.markCancelSent();
            call.fail(cause);
        }
        for (WorkerSession s : workers.values()) {
            if (s.lost() == null && s.publication().isConnected()) {
                s.proxy().abort(controllerId, reason);
            }
        }
    }

    /** Asks every live worker that is still connected to stop. */
    public void shutdownWorkers(String reason) {
        List<ExclusivePublication> sent = new ArrayList<>();
        for (WorkerSession s : workers.values()) {
            if (s.lost() == null && s.publication().isConnected()) {
                if (s.proxy().shutdown(controllerId, reason)) {
                    sent.add(s.publication());
                }
            }
        }
        awaitSent(sent, SHUTDOWN_FLUSH_TIMEOUT_NS);
    }

    /** How long a closing plane waits for its shutdown frames to leave over udp. */
    static final long SHUTDOWN_FLUSH_TIMEOUT_NS = TimeUnit.SECONDS.toNanos(1);

    /**
     * Waits until the driver's sender has sent everything offered to {@code publications} (its sender position
     * counter has reached the publication's position), at most {@code timeoutNs}: a plane that closes its embedded
     * driver right after a shutdown would otherwise drop the frames still in the term buffer, and a worker on udp
     * would wait out its controller timeout and exit as if its controller were lost. An ipc publication has no
     * sender (its subscriber reads the term buffer itself) and is not waited for.
     */
    private void awaitSent(List<ExclusivePublication> publications, long timeoutNs) {
        if (publications.isEmpty() || aeron.isClosed()) {
            return;
        }
        CountersReader counters = aeron.countersReader();
        long deadline = System.nanoTime() + timeoutNs;
        for (ExclusivePublication p : publications) {
            int counterId = senderPositionCounter(counters, p.registrationId());
            if (counterId == CountersReader.NULL_COUNTER_ID) {
                continue;
            }
            long target = p.position();
            while (counters.getCounterValue(counterId) < target && System.nanoTime() < deadline
                    && counters.getCounterState(counterId) == CountersReader.RECORD_ALLOCATED) {
                Thread.onSpinWait();
                LockSupport.parkNanos(TimeUnit.MICROSECONDS.toNanos(100));
            }
        }
    }

    /** The driver's sender position counter of the publication {@code registrationId}, if it has one. */
    private static int senderPositionCounter(CountersReader counters, long registrationId) {
        int[] found = {CountersReader.NULL_COUNTER_ID};
        counters.forEach((counterId, typeId, keyBuffer, label) -> {
            if (typeId == AeronCounters.DRIVER_SENDER_POSITION_TYPE_ID && keyBuffer.getLong(0) == registrationId) {
                found[0] = counterId;
            }
        });
        return found[0];
    }

    @Override
    public void onClose() {
        agentClosed = true;
        failTasks();
        for (WorkerSession s : workers.values()) {
            CloseHelper.quietClose(s.publication());
        }
        for (Pending p : pending.values()) {
            CloseHelper.quietClose(p.publication);
        }
        pending.clear();
        pollLock.lock();
        try {
            CloseHelper.quietClose(subscription);
        } finally {
            pollLock.unlock();
        }
        IllegalStateException closed = new IllegalStateException("control plane closed: controllerId="
                + controllerId);
        for (PendingCall call : calls.values()) {
            call.fail(closed);
        }
    }
}
