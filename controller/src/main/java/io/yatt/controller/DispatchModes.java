package io.yatt.controller;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Objects;
import java.util.function.IntFunction;

/**
 * The built-in dispatch modes, with verl's single_controller semantics: a closed set ({@link BuiltIn}) of
 * {@link Mode} constants and {@link Mesh}; custom modes are any other {@link Dispatch}. Ownership: every
 * {@link DataBatch} in dispatch's output is a new object (a view of the caller's batch, or a copy where padding
 * mixes rows) that the runtime closes after collect (a worker's result may be a view of its input, as
 * {@code input.union(outputs)} is); collect takes ownership of the results, returning them or closing them after
 * copying, also when it throws. Stateless and thread-safe.
 */
public final class DispatchModes {
    /**
     * Metadata key that carries the pad size of a {@link Mode#DP_COMPUTE_PROTO} call from the dispatched chunks to
     * the results: a result must keep it, by keeping its input's metadata or through {@link #carryPadSize}.
     */
    public static final String PAD_SIZE_KEY = "yatt.dispatch.padSize";

    /** Same arguments to every worker; a list with every worker's result back. */
    public static final Mode ONE_TO_ALL = Mode.ONE_TO_ALL;
    /** Argument {@code i} of each per-worker list to worker {@code i}; the list of results back. */
    public static final Mode ALL_TO_ALL = Mode.ALL_TO_ALL;
    /** A pre-split list per argument, one element per DP rank (= worker); the list of results back. */
    public static final Mode DP_COMPUTE = Mode.DP_COMPUTE;
    /** DataBatch arguments padded to a multiple of the worker count and chunked; results concatenated, unpadded. */
    public static final Mode DP_COMPUTE_PROTO = Mode.DP_COMPUTE_PROTO;
    /** Dispatched as DP_COMPUTE_PROTO; the list of results back (metrics), not concatenated. */
    public static final Mode DP_COMPUTE_METRIC = Mode.DP_COMPUTE_METRIC;
    /** Only worker 0 is called, with the arguments unchanged; its result back. */
    public static final Mode RANK_ZERO = Mode.RANK_ZERO;

    private static final String MESH_PREFIX = "MESH(";

    private DispatchModes() {
    }

    /**
     * The worker side of {@link #PAD_SIZE_KEY}: if a DataBatch in {@code args} carries the pad size and
     * {@code result} is a DataBatch without it, a batch with {@code result}'s tensors and the pad size added
     * ({@code result} is closed, its memory moves over); otherwise {@code result} itself. The worker runtime applies
     * it to every result, so worker methods may build their results from scratch.
     */
    public static Object carryPadSize(Object[] args, Object result) {
        if (!(result instanceof DataBatch batch) || batch.isClosed()
                || batch.metadata().containsKey(PAD_SIZE_KEY)) {
            return result;
        }
        for (Object arg : args) {
            if (arg instanceof DataBatch input && !input.isClosed()) {
                Object padSize = input.metadata().get(PAD_SIZE_KEY);
                if (padSize != null) {
                    return batch.moveWithMetadata(PAD_SIZE_KEY, padSize);
                }
            }
        }
        return result;
    }

    /** The closed set of built-in modes. */
    public sealed interface BuiltIn extends Dispatch permits Mode, Mesh {
    }

    /**
     * The mode that chunks DataBatch arguments by DP rank of the named mesh and collects from its collect ranks.
     *
     * @throws IllegalArgumentException if the name is empty or contains parentheses
     */
    public static Mesh mesh(String meshName) {
        return new Mesh(meshName);
    }

    /**
     * The built-in mode with this name, as {@link Dispatch#name()} writes it ({@code DP_COMPUTE_PROTO},
     * {@code MESH(actor)}).
     *
     * @throws IllegalArgumentException if no built-in mode has the name
     */
    public static BuiltIn byName(String name) {
        Objects.requireNonNull(name, "name");
        for (Mode mode : Mode.values()) {
            if (mode.name().equals(name)) {
                return mode;
            }
        }
        if (name.startsWith(MESH_PREFIX) && name.endsWith(")") && name.length() > MESH_PREFIX.length() + 1) {
            return new Mesh(name.substring(MESH_PREFIX.length(), name.length() - 1));
        }
        List<String> known = new ArrayList<>();
        for (Mode mode : Mode.values()) {
            known.add(mode.name());
        }
        known.add("MESH(<mesh name>)");
        throw new IllegalArgumentException("unknown dispatch mode: name=" + name + ", expected one of " + known);
    }

    /** The built-in modes that need no mesh name. */
    public enum Mode implements BuiltIn {
        /** Same arguments to every worker; a list with every worker's result back. */
        ONE_TO_ALL(DispatchModes::toEveryWorker, DispatchModes::resultList),
        /** Argument {@code i} of each per-worker list to worker {@code i}; the list of results back. */
        ALL_TO_ALL(DispatchModes::perWorker, DispatchModes::resultList),
        /** A pre-split list per argument, one element per DP rank (= worker); the list of results back. */
        DP_COMPUTE(DispatchModes::perWorker, DispatchModes::resultList),
        /** DataBatch arguments padded to a multiple of the worker count and chunked; results concatenated, unpadded. */
        DP_COMPUTE_PROTO(DispatchModes::padAndChunk, DispatchModes::concatUnpadded),
        /** Dispatched as DP_COMPUTE_PROTO; the list of results back (metrics), not concatenated. */
        DP_COMPUTE_METRIC(DispatchModes::padAndChunk, DispatchModes::resultList),
        /** Only worker 0 is called, with the arguments unchanged; its result back. */
        RANK_ZERO(DispatchModes::toRankZero, DispatchModes::rankZeroResult);

        private final Dispatcher dispatcher;
        private final Collector collector;

        Mode(Dispatcher dispatcher, Collector collector) {
            this.dispatcher = dispatcher;
            this.collector = collector;
        }

        @Override
        public List<Object[]> dispatch(Object[] args, GroupTopology topology) {
            return dispatcher.dispatch(this, args, topology);
        }

        @Override
        public Object collect(List<Object> results, GroupTopology topology) {
            return collector.collect(this, results, topology);
        }
    }

    /**
     * MESH(name): each worker registered its DP rank in the named mesh and whether it is a collect rank. DataBatch
     * arguments are chunked into the mesh's DP size (equal chunks, no padding); every worker of a DP rank gets that
     * rank's chunk; results are taken only from collect ranks, in DP order, and concatenated. The generic form of
     * HybridFlow's 3D_PROTO.
     *
     * @param meshName the mesh's name, as workers registered it
     */
    public record Mesh(String meshName) implements BuiltIn {

        /** @throws IllegalArgumentException if the name is empty or contains parentheses */
        public Mesh {
            Objects.requireNonNull(meshName, "meshName");
            if (meshName.isEmpty() || meshName.indexOf('(') >= 0 || meshName.indexOf(')') >= 0) {
                throw new IllegalArgumentException("invalid mesh name: meshName=" + meshName
                        + ", expected a non-empty name without parentheses");
            }
        }

        @Override
        public String name() {
            return MESH_PREFIX + meshName + ")";
        }

        @Override
        public List<Object[]> dispatch(Object[] args, GroupTopology topology) {
            int[] dpRanks = dpRanks(topology);
            int dpSize = topology.workers().getFirst().meshes().get(meshName).dpSize();
            return spread(topology.size(), batchArguments(name(), args), (a, batch) -> {
                if (batch.length() % dpSize != 0) {
                    throw new IllegalArgumentException(name() + " expects a batch length divisible by the DP size:"
                            + " index=" + a + ", length=" + batch.length() + ", dpSize=" + dpSize);
                }
                int chunk = batch.length() / dpSize;
                return w -> batch.slice(dpRanks[w] * chunk, chunk);
            });
        }

        @Override
        public Object collect(List<Object> results, GroupTopology topology) {
            try {
                checkResultCount(this, results, topology);
                int[] dpRanks = dpRanks(topology);
                int dpSize = topology.workers().getFirst().meshes().get(meshName).dpSize();
                Object[] byDpRank = new Object[dpSize];
                for (int w = 0; w < topology.size(); w++) {
                    if (topology.workers().get(w).meshes().get(meshName).collect()) {
                        byDpRank[dpRanks[w]] = requireBatch(this, results.get(w), w);
                    }
                }
                List<DataBatch> ordered = new ArrayList<>(dpSize);
                for (Object batch : byDpRank) {
                    ordered.add((DataBatch) batch);
                }
                return DataBatch.concat(ordered);
            } catch (RuntimeException | Error e) {
                closeBatches(results, e);
                throw e;
            } finally {
                closeBatches(results, null);
            }
        }

        /** Each worker's DP rank in this mesh, after checking the mesh is complete and has one collect per DP rank. */
        private int[] dpRanks(GroupTopology topology) {
            int[] dpRanks = new int[topology.size()];
            int dpSize = -1;
            int[] collectors = null;
            boolean[] present = null;
            for (GroupTopology.WorkerInfo worker : topology.workers()) {
                GroupTopology.MeshRank rank = worker.meshes().get(meshName);
                if (rank == null) {
                    throw new IllegalArgumentException(name() + " needs every worker in the mesh: rank="
                            + worker.rank() + ", meshes=" + worker.meshes().keySet().stream().sorted().toList());
                }
                if (dpSize < 0) {
                    dpSize = rank.dpSize();
                    collectors = new int[dpSize];
                    present = new boolean[dpSize];
                } else if (rank.dpSize() != dpSize) {
                    throw new IllegalArgumentException(name() + " DP size differs between workers: rank="
                            + worker.rank() + ", dpSize=" + rank.dpSize() + ", expected=" + dpSize);
                }
                dpRanks[worker.rank()] = rank.dpRank();
                present[rank.dpRank()] = true;
                if (rank.collect()) {
                    collectors[rank.dpRank()]++;
                }
            }
            for (int d = 0; d < dpSize; d++) {
                if (!present[d]) {
                    throw new IllegalArgumentException(name() + " has no worker for a DP rank: dpRank=" + d
                            + ", dpSize=" + dpSize);
                }
                if (collectors[d] != 1) {
                    throw new IllegalArgumentException(name() + " needs exactly one collect worker per DP rank: dpRank="
                            + d + ", collectWorkers=" + collectors[d]);
                }
            }
            return dpRanks;
        }
    }

    // ---- shared pieces ----

    /** How a built-in mode dispatches: {@link Dispatch#dispatch} with the mode itself for its messages. */
    private interface Dispatcher {
        List<Object[]> dispatch(Mode mode, Object[] args, GroupTopology topology);
    }

    /** How a built-in mode collects: {@link Dispatch#collect} with the mode itself for its messages. */
    private interface Collector {
        Object collect(Mode mode, List<Object> results, GroupTopology topology);
    }

    private interface Filler {
        void fill(List<Object[]> outputs);
    }

    /** How argument {@code index} goes to the workers: the value worker {@code w} gets (checks fail here). */
    private interface Spread<T> {
        IntFunction<Object> of(int index, T arg);
    }

    /** Runs {@code filler}; if it fails, closes every batch it dispatched so far. */
    private static List<Object[]> build(int workers, Filler filler) {
        List<Object[]> outputs = new ArrayList<>(workers);
        try {
            filler.fill(outputs);
        } catch (RuntimeException | Error e) {
            for (Object[] own : outputs) {
                if (own != null) {
                    closeBatches(Arrays.asList(own), e);
                }
            }
            throw e;
        }
        return Collections.unmodifiableList(outputs);
    }

    /**
     * Every worker's arguments, argument by argument: {@code spread} gives each argument's value for each worker; if
     * it fails, every batch dispatched so far is closed.
     */
    private static <T> List<Object[]> spread(int workers, List<T> args, Spread<T> spread) {
        return build(workers, outputs -> {
            for (int w = 0; w < workers; w++) {
                outputs.add(new Object[args.size()]);
            }
            for (int a = 0; a < args.size(); a++) {
                IntFunction<Object> valueFor = spread.of(a, args.get(a));
                for (int w = 0; w < workers; w++) {
                    outputs.get(w)[a] = valueFor.apply(w);
                }
            }
        });
    }

    /** A new object for a dispatched argument: a view of a DataBatch, the value itself otherwise. */
    private static Object fresh(Object arg) {
        return arg instanceof DataBatch batch ? batch.slice(0, batch.length()) : arg;
    }

    private static List<Object[]> toEveryWorker(Mode mode, Object[] args, GroupTopology topology) {
        return spread(topology.size(), Arrays.asList(args), (a, arg) -> w -> fresh(arg));
    }

    private static List<Object[]> toRankZero(Mode mode, Object[] args, GroupTopology topology) {
        return build(topology.size(), outputs -> {
            Object[] own = new Object[args.length];
            outputs.add(own);
            for (int a = 0; a < args.length; a++) {
                own[a] = fresh(args[a]);
            }
            for (int w = 1; w < topology.size(); w++) {
                outputs.add(null);
            }
        });
    }

    private static List<Object[]> perWorker(Mode mode, Object[] args, GroupTopology topology) {
        int workers = topology.size();
        for (int a = 0; a < args.length; a++) {
            if (!(args[a] instanceof List<?> list)) {
                throw new IllegalArgumentException(mode + " expects a list per argument: index=" + a + ", type="
                        + typeName(args[a]));
            }
            if (list.size() != workers) {
                throw new IllegalArgumentException(mode + " expects one argument per worker: workers=" + workers
                        + ", got=" + list.size() + ", index=" + a);
            }
        }
        return spread(workers, Arrays.asList(args), (a, arg) -> w -> fresh(((List<?>) arg).get(w)));
    }

    private static List<DataBatch> batchArguments(String mode, Object[] args) {
        List<DataBatch> batches = new ArrayList<>(args.length);
        for (int a = 0; a < args.length; a++) {
            if (!(args[a] instanceof DataBatch batch)) {
                throw new IllegalArgumentException(mode + " expects DataBatch arguments: index=" + a + ", type="
                        + typeName(args[a]));
            }
            batches.add(batch);
        }
        return batches;
    }

    private static List<Object[]> padAndChunk(Mode mode, Object[] args, GroupTopology topology) {
        int workers = topology.size();
        List<DataBatch> batches = batchArguments(mode.name(), args);
        for (int a = 1; a < batches.size(); a++) {
            if (batches.get(a).length() != batches.getFirst().length()) {
                throw new IllegalArgumentException(mode + " expects arguments of one length: index=" + a + ", length="
                        + batches.get(a).length() + ", expected=" + batches.getFirst().length());
            }
        }
        return spread(workers, batches, (a, batch) -> {
            int length = batch.length();
            int padSize = DataBatch.padSize(length, workers);
            int chunk = (length + padSize) / workers;
            return w -> {
                int start = w * chunk;
                DataBatch piece = start + chunk <= length ? batch.slice(start, chunk)
                        : batch.gather(DataBatch.paddedIndices(start, start + chunk, length));
                return piece.moveWithMetadata(PAD_SIZE_KEY, padSize);
            };
        });
    }

    private static Object concatUnpadded(Mode mode, List<Object> results, GroupTopology topology) {
        List<DataBatch> views = new ArrayList<>();
        try {
            checkResultCount(mode, results, topology);
            Integer padSize = null;
            long total = 0;
            for (int w = 0; w < results.size(); w++) {
                DataBatch batch = requireBatch(mode, results.get(w), w);
                Object pad = batch.metadata().get(PAD_SIZE_KEY);
                if (!(pad instanceof Integer value)) {
                    throw new IllegalArgumentException(mode + " result lacks the pad size: rank=" + w + ", key="
                            + PAD_SIZE_KEY + ", value=" + pad + " (keep the input's metadata in the result)");
                }
                if (padSize != null && !padSize.equals(value)) {
                    throw new IllegalArgumentException(mode + " results disagree on the pad size: rank=" + w
                            + ", padSize=" + value + ", expected=" + padSize);
                }
                padSize = value;
                total += batch.length();
            }
            if (padSize > total) {
                throw new IllegalArgumentException(mode + " results shorter than the padding: padSize=" + padSize
                        + ", length=" + total);
            }
            long remaining = total - padSize;
            for (Object result : results) {
                DataBatch batch = (DataBatch) result;
                int keep = (int) Math.min(batch.length(), remaining);
                DataBatch kept = batch.slice(0, keep);
                try {
                    views.add(kept.withoutMetadata(PAD_SIZE_KEY));
                } finally {
                    kept.close();
                }
                remaining -= keep;
            }
            return DataBatch.concat(views);
        } catch (RuntimeException | Error e) {
            closeBatches(results, e);
            throw e;
        } finally {
            closeBatches(views, null);
            closeBatches(results, null);
        }
    }

    private static Object resultList(Dispatch mode, List<Object> results, GroupTopology topology) {
        checkResultCountOrClose(mode, results, topology);
        return Collections.unmodifiableList(new ArrayList<>(results));
    }

    private static Object rankZeroResult(Mode mode, List<Object> results, GroupTopology topology) {
        checkResultCountOrClose(mode, results, topology);
        Object result = results.getFirst();
        closeBatches(results.subList(1, results.size()), null);
        return result;
    }

    /** {@link #checkResultCount}, closing every result when the count is wrong (collect owns them). */
    private static void checkResultCountOrClose(Dispatch mode, List<Object> results, GroupTopology topology) {
        try {
            checkResultCount(mode, results, topology);
        } catch (RuntimeException e) {
            closeBatches(results, e);
            throw e;
        }
    }

    private static void checkResultCount(Dispatch mode, List<Object> results, GroupTopology topology) {
        if (results.size() != topology.size()) {
            throw new IllegalArgumentException(mode.name() + " expects one result per worker: workers="
                    + topology.size() + ", got=" + results.size());
        }
    }

    private static DataBatch requireBatch(Dispatch mode, Object result, int rank) {
        if (!(result instanceof DataBatch batch)) {
            throw new IllegalArgumentException(mode.name() + " expects a DataBatch result: rank=" + rank + ", type="
                    + typeName(result));
        }
        if (batch.isClosed()) {
            throw new IllegalArgumentException(mode.name() + " got a closed DataBatch result: rank=" + rank);
        }
        return batch;
    }

    /** Closes every open DataBatch in {@code values}; failures are added to {@code primary} or thrown. */
    private static void closeBatches(List<?> values, Throwable primary) {
        for (Object value : values) {
            if (value instanceof DataBatch batch && !batch.isClosed()) {
                try {
                    batch.close();
                } catch (RuntimeException e) {
                    if (primary == null) {
                        throw e;
                    }
                    primary.addSuppressed(e);
                }
            }
        }
    }

    private static String typeName(Object value) {
        return value == null ? "null" : value.getClass().getName();
    }
}
