package io.yatt.controller;

import io.yatt.controller.internal.runtime.Batches;
import io.yatt.controller.internal.runtime.ControllerAgent;
import io.yatt.controller.internal.runtime.WorkerAgent;
import io.yatt.controller.internal.runtime.WorkerSession;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;
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
     * with the exceptions listed for {@link #call}; cancelling it sends a cancel to the workers that have not started
     * it.
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
            List<Object[]> perWorker;
            try {
                perWorker = split(dispatch, mode, args);
            } catch (RuntimeException e) {
                return CompletableFuture.failedFuture(e);
            }
            CompletableFuture<List<Object>> raw = agent.invoke(role, method, mode, plane.currentStep(), members,
                    perWorker);
            CompletableFuture<Object> result = raw.thenApply(results -> dispatch.collect(results, topology))
                    .whenComplete((v, e) -> Batches.close(perWorker));
            result.whenComplete((v, e) -> {
                if (e instanceof CancellationException && !raw.isDone()) {
                    raw.cancel(false);
                }
            });
            return result;
        }
        long correlationId;
        try {
            correlationId = agent.announce(role, method, mode, plane.currentStep(), members);
        } catch (RuntimeException e) {
            return CompletableFuture.failedFuture(e);
        }
        CompletableFuture<Object> result = CompletableFuture.allOf(inputs.toArray(CompletableFuture[]::new))
                .handle((v, e) -> e)
                .thenCompose(e -> {
                    if (e != null) {
                        agent.abandon(correlationId, members);
                        return CompletableFuture.failedFuture(
                                e instanceof CompletionException && e.getCause() != null ? e.getCause() : e);
                    }
                    Object[] resolved = args.clone();
                    for (int i = 0; i < resolved.length; i++) {
                        if (resolved[i] instanceof CompletableFuture<?> f) {
                            resolved[i] = f.join();
                        }
                    }
                    List<Object[]> perWorker;
                    try {
                        perWorker = split(dispatch, mode, resolved);
                    } catch (RuntimeException ex) {
                        agent.abandon(correlationId, members);
                        return CompletableFuture.failedFuture(ex);
                    }
                    return agent.provide(correlationId, role, method, members, perWorker)
                            .thenApply(results -> dispatch.collect(results, topology))
                            .whenComplete((v, ex) -> Batches.close(perWorker));
                });
        result.whenComplete((v, e) -> {
            if (e instanceof CancellationException) {
                agent.abandon(correlationId, members);
            }
        });
        return result;
    }

    /**
     * Ends {@code step} for the references this group's workers produced: each worker frees the regions it
     * published at or before the step, and the result names those that no consumer pulled (empty when the step is
     * clean), for example {@code logProbs(step=7, owner=101, region=0, bytes=262144)}.
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

    private List<Object[]> split(Dispatch dispatch, String mode, Object[] args) {
        List<Object[]> perWorker = dispatch.dispatch(args, topology);
        if (perWorker.size() != members.length) {
            Batches.close(perWorker);
            throw new IllegalArgumentException("dispatch produced wrong number of argument lists: mode=" + mode
                    + ", lists=" + perWorker.size() + ", workers=" + members.length);
        }
        ReferenceClaims.claim(perWorker);
        return perWorker;
    }
}
