package io.yatt.controller.internal.runtime;

import io.yatt.controller.WorkerCallException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;

/**
 * One call in flight on a group: per-rank results filled by the controller agent, completed when every called rank
 * answered, failed by the first error, a lost worker or its deadline. A worker's answer to a cancel (or an abort), an
 * error of type {@link CancellationException}, fails it with a {@link CancellationException} naming the rank and the
 * worker's message. Thread-safe (synchronised).
 */
public final class PendingCall {

    /** The type of a worker's answer to a cancel or an abort. */
    private static final String CANCELLATION = CancellationException.class.getName();

    private final long correlationId;
    private final String group;
    private final String method;
    private final WorkerSession[] targets;
    /** Every worker the call went to, answered or not (a cancel goes to all of them). */
    private final List<WorkerSession> called;
    private final Object[] results;
    private int remaining;
    /** Set once a cancel went to every called worker: the failure that follows sends none again. */
    private volatile boolean cancelSent;
    private final long deadlineNs;
    private final CompletableFuture<List<Object>> future = new CompletableFuture<>();

    /** A call sent at {@code startNs} that times out {@code timeoutNs} later ({@code Long.MAX_VALUE}: never). */
    PendingCall(long correlationId, String group, String method, WorkerSession[] targets, long startNs,
                long timeoutNs) {
        this.correlationId = correlationId;
        this.group = group;
        this.method = method;
        this.deadlineNs = timeoutNs == Long.MAX_VALUE ? Long.MAX_VALUE : startNs + timeoutNs;
        this.targets = targets.clone();
        List<WorkerSession> to = new ArrayList<>();
        for (WorkerSession target : targets) {
            if (target != null) {
                to.add(target);
            }
        }
        this.called = List.copyOf(to);
        this.results = new Object[targets.length];
        for (WorkerSession target : targets) {
            if (target != null) {
                remaining++;
            }
        }
        future.whenComplete((v, e) -> {
            if (e != null) {
                closeArrived();
            }
        });
    }

    long correlationId() {
        return correlationId;
    }

    public CompletableFuture<List<Object>> future() {
        return future;
    }

    String group() {
        return group;
    }

    String method() {
        return method;
    }

    /** Whether the call has a deadline and it has passed at {@code nowNs}. */
    boolean overdue(long nowNs) {
        return deadlineNs != Long.MAX_VALUE && nowNs - deadlineNs > 0 && !future.isDone();
    }

    boolean cancelSent() {
        return cancelSent;
    }

    void markCancelSent() {
        cancelSent = true;
    }

    /** Every worker the call was sent to, in rank order, whether it answered or not. */
    List<WorkerSession> called() {
        return called;
    }

    /** The called workers that have not answered yet, in rank order. */
    synchronized List<WorkerSession> unanswered() {
        List<WorkerSession> out = new ArrayList<>();
        for (WorkerSession target : targets) {
            if (target != null) {
                out.add(target);
            }
        }
        return out;
    }

    synchronized boolean involves(WorkerSession session) {
        for (WorkerSession target : targets) {
            if (target == session) {
                return true;
            }
        }
        return false;
    }

    /** Applies a result; false if it does not belong to this call (wrong rank or sender, or a repeat). */
    synchronized boolean result(int rank, WorkerSession from, Object value) {
        if (rank >= targets.length || targets[rank] != from || future.isDone()) {
            return false;
        }
        targets[rank] = null;
        results[rank] = value;
        if (--remaining == 0) {
            future.complete(Arrays.asList(results.clone()));
        }
        return true;
    }

    synchronized boolean error(int rank, WorkerSession from, String type, String message) {
        if (rank >= targets.length || targets[rank] != from) {
            return false;
        }
        targets[rank] = null;
        fail(CANCELLATION.equals(type)
                ? new CancellationException("worker call cancelled: group=" + group + ", method=" + method + ", rank="
                        + rank + ", message=" + message)
                : new WorkerCallException(group, method, rank, type, message));
        return true;
    }

    void fail(Throwable cause) {
        future.completeExceptionally(cause);
    }

    /** A failed or cancelled call closes the results that arrived (nobody will collect them). */
    private synchronized void closeArrived() {
        Batches.close(results);
        Arrays.fill(results, null);
    }
}
