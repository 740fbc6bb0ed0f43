package io.yatt.collectives.internal;

import io.yatt.collectives.CollectiveGroup;
import io.yatt.collectives.CollectiveHandle;
import io.yatt.collectives.CollectiveKind;

import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;
import java.util.function.Function;

/**
 * The group scope every backend shares (in-process, shm, cuda-local, nccl): calls are queued here, and
 * {@link #submit()} or {@link #close()} ends the scope once and hands them to the communicator. The backend's
 * callbacks say how the communicator forgets its open group, and start or run the calls. Also holds the
 * preamble checks of {@code group()} and {@code split()} while a scope is open, and the operation name of
 * a run of calls. Confined to one thread.
 *
 * @param <C> the backend's queued call
 */
public final class GroupScope<C> implements CollectiveGroup {
    private final int rank;
    private final Runnable end;
    private final Function<List<C>, CollectiveHandle> start;
    private final Consumer<List<C>> run;
    private final List<C> calls = new ArrayList<>();
    private boolean submitted;
    private boolean closed;

    private GroupScope(int rank, Runnable end, Function<List<C>, CollectiveHandle> start,
                       Consumer<List<C>> run) {
        this.rank = rank;
        this.end = end;
        this.start = start;
        this.run = run;
    }

    /**
     * A scope opened by rank {@code rank} (named in the double-submit and double-close messages): {@code end} makes
     * the communicator forget it as its open group (it is the open group until then: groups do not nest),
     * {@code start} starts the queued calls without waiting, {@code run} runs them and waits (never asked for an
     * empty scope, which closes without running anything).
     */
    public static <C> GroupScope<C> open(int rank, Runnable end,
                                         Function<List<C>, CollectiveHandle> start, Consumer<List<C>> run) {
        return new GroupScope<>(rank, end, start, run);
    }

    /**
     * Checks that no group is open before opening one.
     *
     * @throws IllegalStateException {@code group already open: rank=0, groups do not nest}
     */
    public static void requireNoneOpen(GroupScope<?> openGroup, int rank) {
        if (openGroup != null) {
            throw new IllegalStateException("group already open: rank=" + rank + ", groups do not nest");
        }
    }

    /**
     * Checks that no group is open before a split.
     *
     * @throws IllegalStateException {@code split inside a group is not supported: rank=0}
     */
    public static void requireNoneOpenForSplit(GroupScope<?> openGroup, int rank) {
        if (openGroup != null) {
            throw new IllegalStateException("split inside a group is not supported: rank=" + rank);
        }
    }

    /**
     * The operation name of a run of calls: the op's own name for one call ({@code allGather}), else
     * {@code group(allGather, send, recv)}.
     */
    public static <C> String describeOps(List<C> calls, Function<? super C, CollectiveKind> kind) {
        if (calls.size() == 1) {
            return kind.apply(calls.getFirst()).opName();
        }
        List<String> names = new ArrayList<>(calls.size());
        for (C call : calls) {
            names.add(kind.apply(call).opName());
        }
        return "group(" + String.join(", ", names) + ")";
    }

    /** Queues a validated call. */
    public void add(C call) {
        calls.add(call);
    }

    /** The calls queued so far (the live list, in order). */
    public List<C> calls() {
        return calls;
    }

    @Override
    public CollectiveHandle submit() {
        if (submitted || closed) {
            throw new IllegalStateException("group already " + (closed ? "closed" : "submitted") + ": rank="
                    + rank + ", calls=" + calls.size());
        }
        submitted = true;
        end.run();
        return start.apply(calls);
    }

    @Override
    public void close() {
        if (closed) {
            throw new IllegalStateException("group already closed: rank=" + rank + ", calls=" + calls.size());
        }
        closed = true;
        if (!submitted) {
            end.run();
            if (!calls.isEmpty()) {
                run.accept(calls);
            }
        }
    }
}
