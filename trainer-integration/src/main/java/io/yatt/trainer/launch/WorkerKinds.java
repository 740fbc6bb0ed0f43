package io.yatt.trainer.launch;

import io.yatt.trainer.loop.RlhfWorker;
import java.lang.invoke.MethodHandles;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The worker kinds {@code yatt worker --kind} serves, in one explicit table (no registry, no service loading): a
 * new kind is one more line in {@link #TABLE}. Immutable and thread-safe.
 */
public final class WorkerKinds {

    private static final Map<String, WorkerKind> TABLE = table(List.of(
            new WorkerKind("echo", "ping (rank, pid) and echo (its argument back): launch and transport checks",
                    false, (rank, world, registrar) -> new EchoWorker(rank), MethodHandles.lookup()),
            new WorkerKind("collective", "all-reduces over the world communicator, rank, sleep: tests and benchmarks",
                    true, (rank, world, registrar) -> new CollectiveWorker(rank, world), MethodHandles.lookup()),
            new WorkerKind("rlhf", "one rank of yatt train (trainer.backend=shm): the colocated RLHF roles",
                    true, RlhfWorker::create, MethodHandles.lookup())));

    private WorkerKinds() {
    }

    private static Map<String, WorkerKind> table(List<WorkerKind> kinds) {
        Map<String, WorkerKind> table = new LinkedHashMap<>();
        for (WorkerKind kind : kinds) {
            if (table.putIfAbsent(kind.name(), kind) != null) {
                throw new IllegalStateException("duplicate worker kind: kind=" + kind.name());
            }
        }
        return Collections.unmodifiableMap(table);
    }

    /**
     * The kind named {@code name}.
     *
     * @throws IllegalArgumentException if no kind has that name (naming the known ones)
     */
    public static WorkerKind of(String name) {
        WorkerKind kind = TABLE.get(name);
        if (kind == null) {
            throw new IllegalArgumentException("unknown worker kind: kind=" + name + ", expected one of "
                    + names());
        }
        return kind;
    }

    /** The names of the kinds, sorted. */
    public static List<String> names() {
        return TABLE.keySet().stream().sorted().toList();
    }
}
