package io.yatt.controller;

import io.yatt.controller.internal.runtime.Batches;
import io.yatt.controller.internal.runtime.ControllerAgent;
import io.yatt.controller.internal.runtime.WorkerAgent;
import io.yatt.controller.internal.runtime.WorkerSession;
import io.yatt.controller.internal.wire.Message;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Predicate;
import java.util.function.Function;

/**
 * The workers of one role, ranks 0 to size - 1, called as one: {@code call("generate", batch)} splits the arguments
 * with the dispatch mode the workers declared for the method, sends one invoke per worker and collects the results.
 * Thread-safe.
 */
public final class WorkerGroup {

    private final ControlPlane plane;
    private final ControllerAgent agent;
    private final String role;
    private final WorkerSession[] members;
    private final GroupTopology topology;
    private final Map<String, String> methods;
    private final Function<String, Dispatch> dispatchModes;
    /**
     * The futures a proxy derived from a pending call of this group ({@link #trackDerived}), with that call, so that
     * {@link #cancel} reaches it through them (futures compare by identity); a call's own future carries its canceller.
     */
    private final Map<CompletableFuture<?>, CallFuture> cancellers = new ConcurrentHashMap<>();

    WorkerGroup(ControlPlane plane, ControllerAgent agent, String role, WorkerSession[] members,
                GroupTopology topology, Map<String, String> methods, Function<String, Dispatch> dispatchModes) {
        this.plane = plane;
        this.agent = agent;
        this.role = role;
        this.members = members.clone();
        this.topology = topology;
        this.methods = Map.copyOf(methods);
        this.dispatchModes = dispatchModes;
    }

    public String role() {
        return role;
    }

    public int size() {
        return members.length;
    }

    /** The workers and their mesh registrations, as dispatch modes see them. */
    public GroupTopology topology() {
        return topology;
    }

    /**
     * Calls {@code method} and waits for the collected result, reading the answers off the control stream on this
     * thread (see {@link ControlPlane#await}).
     *
     * @throws WorkerCallException if the method threw on a worker (the first error reported)
     * @throws WorkerLostException if a called worker stopped heartbeating before it answered
     * @throws IllegalArgumentException if the group has no such method or the arguments do not fit its dispatch mode
     * @throws CancellationException if the call was aborted
     * @throws IllegalStateException if an invoke could not be sent or the control plane closed
     */
    public Object call(String method, Object... args) {
        try {
            return agent.await(callAsync(method, args), Long.MAX_VALUE);
        } catch (java.util.concurrent.TimeoutException e) {
            throw new IllegalStateException("call not completed: group=" + role + ", method=" + method, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted waiting for a call: group=" + role + ", method=" + method, e);
        } catch (CancellationException e) {
            // get reports a cancelled future's own exception as the cause of a fresh one
            throw e.getCause() instanceof CancellationException cause ? cause : e;
        } catch (ExecutionException e) {
            if (e.getCause() instanceof RuntimeException re) {
                throw re;
            }
            throw new IllegalStateException("call failed: group=" + role + ", method=" + method, e.getCause());
        }
    }

    /**
     * Calls {@code method} without waiting. An argument may be a future (for example one returned by an earlier
     * call): the workers then queue the call at once and wait for their input, and this group sends each worker its
     * share when the futures complete (the caller does not block); calls made later queue behind it on each worker.
     * If an input future fails, the call fails with its cause and the workers drop it. The returned future fails
     * with the exceptions listed for {@link #call}. Cancelling it ({@code cancel(true)} or {@code cancel(false)})
     * fails it at once and sends a cancel to every worker of the call: each drops the call, or interrupts its method if
     * it runs, and its answer is discarded; {@link #cancel(CompletableFuture)} waits for those answers instead.
     */
    public CompletableFuture<Object> callAsync(String method, Object... args) {
        List<CompletableFuture<?>> inputs = new ArrayList<>();
        for (Object arg : args) {
            if (arg instanceof CompletableFuture<?> f) {
                inputs.add(f);
            }
        }
        String mode = methods.get(method);
        if (mode == null) {
            return CompletableFuture.failedFuture(new IllegalArgumentException("unknown method: group=" + role
                    + ", method=" + method + ", known=" + methods.keySet().stream().sorted().toList()));
        }
        Dispatch dispatch;
        try {
            dispatch = dispatchModes.apply(mode);
        } catch (RuntimeException e) {
            return CompletableFuture.failedFuture(e);
        }
        if (inputs.isEmpty()) {
            Dispatched dispatched;
            try {
                dispatched = split(dispatch, mode, args);
            } catch (RuntimeException e) {
                return CompletableFuture.failedFuture(e);
            }
            long correlationId = agent.newCall();
            CompletableFuture<List<Object>> raw = agent.invoke(correlationId, role, method, mode,
                    plane.currentStep(), members, dispatched.perWorker());
            CallFuture result = new CallFuture(this, call -> agent.cancel(correlationId), () -> {
                if (!raw.isDone()) {
                    raw.cancel(false);
                }
            });
            raw.whenComplete((results, e) -> settle(result, results, e, dispatch, dispatched));
            return result;
        }
        long correlationId;
        try {
            correlationId = agent.announce(role, method, mode, plane.currentStep(), members);
        } catch (RuntimeException e) {
            return CompletableFuture.failedFuture(e);
        }
        // set once the workers were told to drop the call (or answered it): a cancel then sends nothing more
        AtomicBoolean settled = new AtomicBoolean();
        long announced = correlationId;
        // before its inputs are sent the call is only announced: cancelling it then drops it (see callAsync)
        CallFuture result = new CallFuture(this, call -> agent.cancel(announced) || call.completeExceptionally(
                wrapped(new CancellationException("call cancelled before its input: group=" + role + ", method="
                        + method))), () -> {
                            if (settled.compareAndSet(false, true)) {
                                agent.abandon(announced, members);
                            }
                        });
        CompletableFuture.allOf(inputs.toArray(CompletableFuture[]::new)).whenComplete((v, e) -> {
            if (result.isDone()) {
                return;
            }
            if (e != null) {
                settled.set(true);
                agent.abandon(correlationId, members);
                result.completeExceptionally(wrapped(e));
                return;
            }
            Object[] resolved = args.clone();
            for (int i = 0; i < resolved.length; i++) {
                if (resolved[i] instanceof CompletableFuture<?> f) {
                    resolved[i] = f.join();
                }
            }
            Dispatched dispatched;
            try {
                dispatched = split(dispatch, mode, resolved);
            } catch (RuntimeException ex) {
                settled.set(true);
                agent.abandon(correlationId, members);
                result.completeExceptionally(wrapped(ex));
                return;
            }
            agent.provide(correlationId, role, method, members, dispatched.perWorker())
                    .whenComplete((results, ex) -> {
                        settled.set(true);
                        settle(result, results, ex, dispatch, dispatched);
                    });
        });
        return result;
    }

    /**
     * Completes {@code result} from the workers' answers: the collected value, or the failure inside a
     * {@link CompletionException} (as a dependent stage holds it: {@code get} reports the cause, and a call failed by
     * the workers' answer to a cancel or an abort is not a future cancelled here). The dispatch outputs and the
     * batches the call took over are closed after collect and before {@code result} completes, so that whoever sees
     * the call complete finds them closed. A value nobody can take any more (the future was cancelled meanwhile) is
     * closed.
     */
    private void settle(CompletableFuture<Object> result, List<Object> results, Throwable failure, Dispatch dispatch,
                        Dispatched dispatched) {
        Object value = null;
        Throwable error = failure;
        try {
            if (error == null) {
                try {
                    value = dispatch.collect(results, topology);
                } catch (RuntimeException e) {
                    // a custom collect that throws leaves the workers' results to the runtime: nobody else holds them
                    Batches.close(results);
                    error = e;
                }
            }
        } finally {
            dispatched.close();
        }
        if (error != null) {
            result.completeExceptionally(wrapped(error));
        } else if (!result.complete(value)) {
            Batches.close(value);
        }
    }

    private static CompletionException wrapped(Throwable e) {
        return e instanceof CompletionException c ? c : new CompletionException(e);
    }

    /**
     * Asks the workers to stop a call of this group ({@code call}: a future returned by {@link #callAsync} or by a
     * method of a {@link #proxy}), without waiting. The cancel goes to every worker of the call, so that no rank of a
     * mesh stays in a collective its peers have left: a worker drops the call if it has not started it, or interrupts
     * its method if it runs. The future then completes with the workers' answers: it fails with a
     * {@link CancellationException} (get reports it as the cause) such as {@code worker call cancelled: group=actor, method=generate, rank=0,
     * message=cancelled while running: method=generate, step=3} (or {@code ... message=cancelled before start}), or
     * the result if every worker finished first. A call whose inputs are still futures is dropped at once and fails with {@code call cancelled
     * before its input: group=..., method=...}. Unlike {@code call.cancel(true)}, which fails the future at once and
     * leaves the workers' answers unread, the future completes only when the workers are done with the call (except
     * for a method that ignores the interrupt: it runs to completion on its worker, and its result is discarded).
     *
     * @return false if {@code call} is not a pending call of this group (it completed, or came from elsewhere)
     */
    public boolean cancel(CompletableFuture<?> call) {
        // a completed call may still be in the table while its dependents run: done means nothing to cancel
        if (call.isDone()) {
            return false;
        }
        CallFuture target = call instanceof CallFuture f && f.group == this ? f : cancellers.get(call);
        return target != null && target.canceller.test(target);
    }

    /** Makes {@code derived} (a proxy's future over {@code call}) cancel {@code call} through {@link #cancel}. */
    void trackDerived(CompletableFuture<?> derived, CompletableFuture<?> call) {
        if (call instanceof CallFuture f && f.group == this && !call.isDone()) {
            cancellers.put(derived, f);
            derived.whenComplete((v, e) -> cancellers.remove(derived));
        }
    }

    /**
     * The future {@link #callAsync} returns: it carries what {@link #cancel} runs for it, and what must happen when it
     * is cancelled ({@code cancel}, or completed with a {@link CancellationException}), so that a call needs no table
     * entry and no extra stages on the way of every result.
     */
    private static final class CallFuture extends CompletableFuture<Object> {
        private final WorkerGroup group;
        /** Asks the workers to stop this call (given the call, which it may fail itself). */
        private final Predicate<CallFuture> canceller;
        private final Runnable onCancelled;

        CallFuture(WorkerGroup group, Predicate<CallFuture> canceller, Runnable onCancelled) {
            this.group = group;
            this.canceller = canceller;
            this.onCancelled = onCancelled;
        }

        @Override
        public boolean cancel(boolean mayInterruptIfRunning) {
            boolean done = super.cancel(mayInterruptIfRunning);
            if (done) {
                onCancelled.run();
            }
            return done;
        }

        @Override
        public boolean completeExceptionally(Throwable ex) {
            boolean done = super.completeExceptionally(ex);
            Throwable cause = ex instanceof CompletionException && ex.getCause() != null ? ex.getCause() : ex;
            if (done && cause instanceof CancellationException) {
                onCancelled.run();
            }
            return done;
        }
    }

    /**
     * A typed view of this group: each method of {@code api} calls the worker method of the same name. A method
     * returning {@link CompletableFuture} calls it as {@link #callAsync} does, any other blocks as {@link #call} does
     * and returns the collected result as the declared type ({@code void}: the result is dropped); arguments, futures
     * included, are passed as those take them. {@code toString}, {@code equals} and {@code hashCode} are answered by
     * the proxy itself (identity). Everything about {@code api} that can be checked without calling is checked here,
     * the parameter and return types against the signatures the workers registered, through each method's dispatch
     * mode (by name only for workers that registered none, and for custom modes).
     *
     * @throws IllegalArgumentException if {@code api} is not an interface, is generic, has default or generic methods,
     *         overloads a name (worker methods are identified by name), returns a future other than a
     *         {@code CompletableFuture} or has methods this group does not serve, each naming the interface and the
     *         methods at fault; or if a method's parameter count, a parameter type or its return type cannot match
     *         what its workers declare (no call could succeed), or its workers registered different signatures,
     *         naming the method, the index and the expected and actual types, or the signatures and worker ids
     */
    public <T> T proxy(Class<T> api) {
        List<Message.Register> registrations = new ArrayList<>(members.length);
        for (WorkerSession member : members) {
            registrations.add(member.registration());
        }
        List<Class<?>> payloadClasses = new ArrayList<>();
        for (PayloadType<?> type : plane.context().allPayloadTypes()) {
            payloadClasses.add(type.javaType());
        }
        return GroupProxy.create(this, api, methods.keySet(),
                new ProxySignatures(role, methods, dispatchModes, registrations, payloadClasses));
    }

    /**
     * Ends {@code step} for the references this group's workers produced, and for those the controller kept for its
     * calls' arguments: each frees the regions it published at or before the step, and the result names those that
     * no consumer pulled (empty when the step is clean), for example
     * {@code logProbs(step=7, owner=101, region=0, bytes=262144)} (owner 2147483647: the controller).
     *
     * @throws WorkerLostException if a worker stopped heartbeating
     * @throws IllegalStateException if an invoke could not be sent or the control plane closed
     */
    public List<String> endStep(long step) {
        List<Object[]> perWorker = new ArrayList<>();
        for (int i = 0; i < members.length; i++) {
            perWorker.add(new Object[] {step});
        }
        try {
            List<Object> results = agent.await(agent.invoke(role, WorkerAgent.END_STEP_METHOD,
                    DispatchModes.ONE_TO_ALL.name(), step, members, perWorker), Long.MAX_VALUE);
            List<String> left = new ArrayList<>();
            for (Object r : results) {
                for (Object name : (List<?>) r) {
                    left.add((String) name);
                }
            }
            left.addAll(plane.references().endStep(step));
            return List.copyOf(left);
        } catch (java.util.concurrent.TimeoutException e) {
            throw new IllegalStateException("ending a step not completed: group=" + role + ", step=" + step, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted ending a step: group=" + role + ", step=" + step, e);
        } catch (ExecutionException e) {
            if (e.getCause() instanceof RuntimeException re) {
                throw re;
            }
            throw new IllegalStateException("ending a step failed: group=" + role + ", step=" + step, e.getCause());
        }
    }

    /**
     * A call's argument lists as dispatched, and the caller's batches the call took over (see {@link #split}).
     *
     * @param perWorker the dispatch's argument lists, one per worker ({@code null}: the worker is not called)
     * @param takenOver batches of the caller that were replaced by a batch made for their references and that the
     *                  dispatch handed on as they are (they are the call's, as they would be without references)
     */
    private record Dispatched(List<Object[]> perWorker, List<DataBatch> takenOver) {
        /** Closes the dispatched batches, then those taken over (the former may view them). */
        void close() {
            Batches.close(perWorker);
            Batches.close(takenOver);
        }
    }

    /**
     * The dispatch's argument lists, after every DataBatch tensor above the inline limit (of an argument, or of a
     * batch nested in an argument's lists and maps) became a reference to a copy the controller keeps
     * ({@link ControllerReferences}), with the claims of the references they hold. The batches made for the references
     * follow the batches they replace: one the dispatch views (an argument, an element of an ALL_TO_ALL list) is
     * closed here and its original stays the caller's; one it hands on as it is (a batch nested in a list or map of
     * ONE_TO_ALL or RANK_ZERO) is closed with the dispatched batches, and its original, which the call then took over
     * as it takes over every batch it hands on, after them. If the dispatch throws, the copies are freed and the
     * batches made closed, and the caller keeps every batch.
     */
    private Dispatched split(Dispatch dispatch, String mode, Object[] args) {
        ControllerReferences references = plane.references();
        ControllerReferences.Published published = references.publish(args, plane.context().inlineLimitBytes(),
                plane.currentStep());
        List<Object[]> perWorker;
        try {
            perWorker = dispatch.dispatch(published.args(), topology);
        } catch (RuntimeException | Error e) {
            references.discard(published);
            throw e;
        }
        List<DataBatch> takenOver = List.of();
        if (!published.derived().isEmpty()) {
            // closes the batches made that the dispatch did not hand on as they are (it viewed them); it handed on
            // the rest
            Batches.close(published.derived().values(), perWorker);
            takenOver = new ArrayList<>();
            for (Map.Entry<DataBatch, DataBatch> e : published.derived().entrySet()) {
                if (!e.getValue().isClosed()) {
                    takenOver.add(e.getKey());
                }
            }
        }
        Dispatched dispatched = new Dispatched(perWorker, takenOver);
        if (perWorker.size() != members.length) {
            dispatched.close();
            references.discard(published);
            throw new IllegalArgumentException("dispatch produced wrong number of argument lists: mode=" + mode
                    + ", lists=" + perWorker.size() + ", workers=" + members.length);
        }
        ReferenceClaims.claim(perWorker);
        return dispatched;
    }
}
