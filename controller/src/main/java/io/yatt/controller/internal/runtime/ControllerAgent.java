package io.yatt.controller.internal.runtime;

import io.aeron.Aeron;
import io.aeron.ExclusivePublication;
import io.aeron.FragmentAssembler;
import io.aeron.Subscription;
import io.yatt.controller.WorkerLostException;
import io.yatt.controller.internal.wire.FrameAdapter;
import io.yatt.controller.internal.wire.FrameCounters;
import io.yatt.controller.internal.wire.FrameDecoder;
import io.yatt.controller.internal.wire.Message;
import io.yatt.controller.internal.wire.MessageHandler;
import io.yatt.controller.internal.wire.PayloadCodec;
import io.yatt.controller.internal.wire.WorkerProxy;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import org.agrona.CloseHelper;
import org.agrona.concurrent.Agent;

/**
 * The controller's duty cycle: polls the control stream (registrations, heartbeats, results, errors from workers),
 * answers registrations (challenging them with a nonce when a shared secret is set), and fails the calls of workers
 * whose last frame is older than the heartbeat timeout. Callers start calls from their own threads through
 * {@link #invoke}; everything else runs on the agent's thread.
 */
public final class ControllerAgent implements Agent, MessageHandler {

    /** Fragments read per duty cycle. */
    static final int FRAGMENT_LIMIT = 16;
    /** Bytes of a registration nonce. */
    static final int NONCE_BYTES = 32;

    private final long controllerId;
    private final Aeron aeron;
    private final Subscription subscription;
    private final FragmentAssembler assembler;
    private final FrameCounters counters = new FrameCounters();
    private final AeronTransport transport;
    private final PayloadCodec payloads;
    private final byte[] secret;
    private final long heartbeatIntervalNs;
    private final long heartbeatTimeoutNs;
    private final long sendTimeoutNs;
    private final SecureRandom random = new SecureRandom();
    private final AtomicLong correlationIds = new AtomicLong();

    private final Map<Integer, WorkerSession> workers = new ConcurrentHashMap<>();
    private final Map<Long, PendingCall> calls = new ConcurrentHashMap<>();
    private final Map<Integer, WorkerSession> bySession = new HashMap<>();
    private final Map<Integer, byte[]> challenges = new HashMap<>();
    private final Map<Integer, ExclusivePublication> replies = new HashMap<>();
    private long nextLivenessCheckNs;
    private volatile PeerInbox peers;
    private long nextHeartbeatNs;

    /**
     * An agent reading {@code subscription} (and running the transport's invoker, if any); {@code secret} null means
     * registrations are not authenticated.
     */
    public ControllerAgent(long controllerId, AeronTransport transport, Subscription subscription, PayloadCodec payloads,
                           byte[] secret, long heartbeatIntervalNs, long heartbeatTimeoutNs, long sendTimeoutNs) {
        this.controllerId = controllerId;
        this.aeron = transport.aeron();
        this.transport = transport;
        this.subscription = subscription;
        this.payloads = payloads;
        this.secret = secret == null ? null : secret.clone();
        this.heartbeatIntervalNs = heartbeatIntervalNs;
        this.heartbeatTimeoutNs = heartbeatTimeoutNs;
        this.sendTimeoutNs = sendTimeoutNs;
        this.assembler = new FragmentAssembler(new FrameAdapter(new FrameDecoder(payloads), this, counters));
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
        transport.owner(Thread.currentThread());
    }

    @Override
    public int doWork() {
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
        work += subscription.poll(assembler, FRAGMENT_LIMIT);
        long nowNs = System.nanoTime();
        if (nowNs - nextLivenessCheckNs >= 0) {
            nextLivenessCheckNs = nowNs + Math.max(1, heartbeatIntervalNs / 4);
            work += checkLiveness(nowNs);
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

    private int checkLiveness(long nowNs) {
        int lostNow = 0;
        for (WorkerSession session : workers.values()) {
            long ageNs = nowNs - session.lastSeenNs();
            if (session.lost() == null && ageNs > heartbeatTimeoutNs) {
                Message.Register r = session.registration();
                WorkerLostException e = new WorkerLostException(r.roles(), r.rank(), r.pid(), r.host(), ageNs,
                        heartbeatTimeoutNs);
                session.lost(e);
                for (PendingCall call : calls.values()) {
                    if (call.involves(session)) {
                        call.fail(e);
                    }
                }
                abortPeersOf(session, e);
                lostNow++;
            }
        }
        return lostNow;
    }

    /**
     * Sends abort to every live worker that shares a role with {@code lost}: their calls in flight are interrupted
     * and their registered communicators aborted, so no peer of the lost worker hangs in a collective.
     */
    private void abortPeersOf(WorkerSession lost, WorkerLostException cause) {
        List<String> roles = lost.registration().roles();
        for (WorkerSession s : workers.values()) {
            if (s != lost && reachable(s) && s.registration().roles().stream().anyMatch(roles::contains)) {
                s.proxy().abort(controllerId, cause.getMessage());
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
                PeerInbox inbox = peers;
                if (inbox == null || !inbox.fromPeer(b.controllerId(), b.controllerIndex(), b.controllerCount())) {
                    yield Outcome.UNAUTHENTICATED;
                }
                inbox.barrier(b);
                yield Outcome.APPLIED;
            }
            case Message.MetricReduction m -> {
                PeerInbox inbox = peers;
                if (inbox == null || !inbox.fromPeer(m.controllerId(), m.controllerIndex(), m.controllerCount())) {
                    yield Outcome.UNAUTHENTICATED;
                }
                inbox.reduction(m);
                yield Outcome.APPLIED;
            }
            default -> Outcome.DROPPED;
        };
    }

    /** Accepts step barriers and metric reductions from the controllers of {@code inbox} from now on. */
    public void peers(PeerInbox inbox) {
        this.peers = inbox;
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
        ExclusivePublication reply = replies.get(sessionId);
        if (reply == null) {
            reply = aeron.addExclusivePublication(r.replyChannel(), r.replyStreamId());
            replies.put(sessionId, reply);
        }
        WorkerProxy proxy = new WorkerProxy(payloads, new PublicationSink(transport, reply, sendTimeoutNs));
        if (secret != null) {
            if (r.mac().length == 0) {
                byte[] nonce = challenges.get(sessionId);
                if (nonce == null) {
                    nonce = new byte[NONCE_BYTES];
                    random.nextBytes(nonce);
                    challenges.put(sessionId, nonce);
                }
                proxy.registerAck(controllerId, r.workerId(), Message.AckStatus.CHALLENGE, heartbeatIntervalNs,
                        nonce, "");
                return Outcome.APPLIED;
            }
            byte[] nonce = challenges.remove(sessionId);
            if (nonce == null || !Hmac.verify(secret, nonce, r.workerId(), r.rank(), r.mac())) {
                proxy.registerAck(controllerId, r.workerId(), Message.AckStatus.REFUSED, heartbeatIntervalNs,
                        new byte[0], "authentication failed");
                CloseHelper.quietClose(replies.remove(sessionId));
                return Outcome.UNAUTHENTICATED;
            }
        }
        for (WorkerSession other : workers.values()) {
            Message.Register o = other.registration();
            if (other.lost() == null && o.rank() == r.rank()
                    && o.roles().stream().anyMatch(r.roles()::contains)) {
                proxy.registerAck(controllerId, r.workerId(), Message.AckStatus.REFUSED, heartbeatIntervalNs,
                        new byte[0], "rank already registered: rank=" + r.rank() + ", roles=" + r.roles()
                                + ", workerId=" + o.workerId());
                CloseHelper.quietClose(replies.remove(sessionId));
                return Outcome.DROPPED;
            }
        }
        WorkerSession session = new WorkerSession(r, sessionId, reply, proxy, System.nanoTime());
        replies.remove(sessionId);
        bySession.put(sessionId, session);
        workers.put(r.workerId(), session);
        proxy.registerAck(controllerId, r.workerId(), Message.AckStatus.ACCEPTED, heartbeatIntervalNs, new byte[0],
                "");
        return Outcome.APPLIED;
    }

    /**
     * Sends one invoke per non-null {@code args} element to {@code targets} (same index) and returns the per-rank
     * results. Called from any thread.
     */
    public CompletableFuture<List<Object>> invoke(String group, String method, String dispatchMode, long step,
                                                  WorkerSession[] targets, List<Object[]> args) {
        return start(correlationIds.incrementAndGet(), group, method, dispatchMode, step, targets, args, false);
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
            if (reachable(target)) {
                target.proxy().cancel(correlationId, controllerId);
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
                    if (reachable(target)) {
                        target.proxy().input(correlationId, controllerId, null);
                    }
                }
            }
            return CompletableFuture.completedFuture(Arrays.asList(new Object[targets.length]));
        }
        PendingCall call = new PendingCall(correlationId, group, method, called);
        calls.put(correlationId, call);
        call.future().whenComplete((v, e) -> {
            calls.remove(correlationId);
            if (e instanceof CancellationException) {
                for (WorkerSession target : called) {
                    if (target != null && reachable(target)) {
                        target.proxy().cancel(correlationId, controllerId);
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
            if (called[i] == null && (!announced || !reachable(targets[i]))) {
                continue;
            }
            RuntimeException failure = null;
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

    /** Sends abort to every live worker and fails every call in flight with {@code cause}. */
    public void abort(String reason, RuntimeException cause) {
        for (WorkerSession s : workers.values()) {
            if (s.lost() == null && s.publication().isConnected()) {
                s.proxy().abort(controllerId, reason);
            }
        }
        for (PendingCall call : new ArrayList<>(calls.values())) {
            call.fail(cause);
        }
    }

    /** Asks every live worker that is still connected to stop. */
    public void shutdownWorkers(String reason) {
        for (WorkerSession s : workers.values()) {
            if (s.lost() == null && s.publication().isConnected()) {
                s.proxy().shutdown(controllerId, reason);
            }
        }
    }

    @Override
    public void onClose() {
        for (WorkerSession s : workers.values()) {
            CloseHelper.quietClose(s.publication());
        }
        for (ExclusivePublication p : replies.values()) {
            CloseHelper.quietClose(p);
        }
        CloseHelper.quietClose(subscription);
        IllegalStateException closed = new IllegalStateException("control plane closed: controllerId="
                + controllerId);
        for (PendingCall call : calls.values()) {
            call.fail(closed);
        }
    }
}
