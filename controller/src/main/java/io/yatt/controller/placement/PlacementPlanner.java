package io.yatt.controller.placement;

import io.yatt.hybrid.GenerationLayout;
import io.yatt.hybrid.HybridLayout;
import io.yatt.hybrid.ModelSpec;
import io.yatt.hybrid.ParallelLayout;
import io.yatt.hybrid.RankPlan;
import io.yatt.hybrid.ReshardPlan;
import io.yatt.hybrid.ReshardPlanner;
import io.yatt.hybrid.ReshardScheme;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.EnumMap;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.PriorityQueue;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * HybridFlow's auto-mapping (Algorithm 1): for every set partition of the models into colocated sets and every
 * allocation of the GPUs to the sets (unlike Algorithm 1, an allocation may leave GPUs idle, so more GPUs never
 * predict a slower iteration), choose each model's parallel layouts on its set (training {@code p-t-d} with
 * TP inside a node, the actor's generation {@code p_g-t_g-d_g} by the 3D-HybridEngine rules), check memory per
 * rank, score with {@link CostModel} (inside a set stage times add, across sets the slowest counts, stages add), and
 * keep the best {@code k}. Results are cached per (workload, cluster, k). Thread-safe.
 */
public final class PlacementPlanner {

    /** Placements reported when none is asked for. */
    public static final int DEFAULT_TOP_K = 5;

    private record Key(Workload workload, Cluster cluster, int topK) {
    }

    private record TransitionKey(ModelSpec.DecoderConfig config, int p, int t, int pg, int tg, int gpusPerNode) {
    }

    /** The transition of one (training, generation) pair: max bytes received per rank and where they travel. */
    record Transition(long bytesPerRank, boolean crossesNodes) {
    }

    private final Map<Key, PlacementResult> results = new ConcurrentHashMap<>();
    private final Map<TransitionKey, Transition> transitions = new ConcurrentHashMap<>();
    private final Map<ModelSpec.DecoderConfig, ModelStats> stats = new ConcurrentHashMap<>();

    private PlacementPlanner() {
    }

    /** A planner with empty caches. */
    public static PlacementPlanner create() {
        return new PlacementPlanner();
    }

    /**
     * The best {@code topK} placements of {@code workload} on {@code cluster}, fastest first; cached.
     *
     * @throws IllegalArgumentException if {@code topK} is not positive, a model fits on no number of the cluster's
     *         GPUs, or no placement fits in memory
     */
    public PlacementResult plan(Workload workload, Cluster cluster, int topK) {
        if (topK < 1) {
            throw new IllegalArgumentException("top k must be positive: topK=" + topK);
        }
        Key key = new Key(workload, cluster, topK);
        PlacementResult cached = results.get(key);
        if (cached != null) {
            return cached;
        }
        PlacementResult result = new Search(workload, cluster).run(topK);
        PlacementResult raced = results.putIfAbsent(key, result);
        return raced == null ? result : raced;
    }

    /** Number of actor transitions planned with {@code ReshardPlanner} and cached (one per layout pair). */
    public int cachedTransitionCount() {
        return transitions.size();
    }

    /** Number of cached results. */
    public int cachedResultCount() {
        return results.size();
    }

    /**
     * Bytes each rank receives in the actor's train-to-generation transition of {@code plan} under every scheme
     * (DESIGN.md Table 2), from {@code ReshardPlanner} over the plan's full layouts: the largest over ranks.
     *
     * @throws IllegalArgumentException if the plan has no actor with a generation layout
     */
    public Map<ReshardScheme, Long> transitionVolumes(PlacementResult result, PlacementPlan plan) {
        RolePlan actor = plan.role(Role.ACTOR);
        GenerationLayout gen = actor.generation().orElseThrow(() -> new IllegalArgumentException(
                "actor has no generation layout: placement=" + plan.describe()));
        ModelStats m = stats(result.workload().models().get(Role.ACTOR));
        HybridLayout layout = HybridLayout.of(actor.layout(), gen);
        Map<ReshardScheme, Long> volumes = new EnumMap<>(ReshardScheme.class);
        for (ReshardScheme scheme : ReshardScheme.values()) {
            ReshardPlan p = ReshardPlanner.create().plan(layout, m.spec, scheme);
            long max = 0;
            for (long b : p.bytesReceivedPerRank()) {
                max = Math.max(max, b);
            }
            volumes.put(scheme, max);
        }
        return volumes;
    }

    private ModelStats stats(ModelSpec.DecoderConfig config) {
        return stats.computeIfAbsent(config, ModelStats::new);
    }

    /**
     * The actor transition for training {@code p-t} and generation {@code p_g-t_g}: the plan of one data-parallel
     * replica (HybridFlow's micro-DP groups lie inside a replica, so each rank's bytes do not depend on {@code d}).
     */
    Transition transition(ModelStats m, int p, int t, int pg, int tg, int gpusPerNode) {
        TransitionKey key = new TransitionKey(m.config, p, t, pg, tg, gpusPerNode);
        Transition cached = transitions.get(key);
        if (cached != null) {
            return cached;
        }
        ParallelLayout train = ParallelLayout.of(p, t, 1);
        HybridLayout layout = HybridLayout.of(train, GenerationLayout.of(train, pg, tg));
        ReshardPlan plan = ReshardPlanner.create().plan(layout, m.spec, ReshardScheme.HYBRIDFLOW);
        long max = 0;
        for (RankPlan r : plan.ranks()) {
            max = Math.max(max, r.bytesReceived() + r.replicatedBytesReceived());
        }
        boolean crosses = false;
        for (List<Integer> group : layout.microDpGroups()) {
            crosses |= group.getFirst() / gpusPerNode != group.getLast() / gpusPerNode;
        }
        Transition result = new Transition(max, crosses);
        transitions.putIfAbsent(key, result);
        return result;
    }

    /** The memory of one layout or of layouts chosen together: resident bytes and the peak of transient bytes. */
    private interface Footprint {
        long resident();

        long transientBytes();
    }

    /** One candidate layout of one role on one set size, with the costs that do not depend on the other roles. */
    private record Candidate(ParallelLayout layout, long resident, long transientBytes, double fixedSeconds)
            implements Footprint {
    }

    /** The actor's best generation choice for one training layout. */
    private record GenChoice(int pg, int tg, CostModel.GenerationCost cost, Transition transition,
                             double transitionSeconds, double seconds) {
    }

    /** Generation in the training layout itself: nothing moves. */
    private static final Transition NO_TRANSITION = new Transition(0, false);

    /** One planning run. Confined to the calling thread. */
    private final class Search {
        private final Workload w;
        private final Cluster c;
        private final List<Role> roles;
        private final ModelStats[] models;
        private final long usable;
        private final List<Integer> sizes;
        private final int[][] counts;
        private final SetPlan[][] setPlans;

        Search(Workload w, Cluster c) {
            this.w = w;
            this.c = c;
            this.roles = w.roles();
            this.models = new ModelStats[roles.size()];
            for (int i = 0; i < roles.size(); i++) {
                models[i] = stats(w.models().get(roles.get(i)));
            }
            this.usable = CostModel.usableBytes(c);
            this.sizes = Allocations.sizes(c.gpus(), c.gpusPerNode());
            this.counts = new int[roles.size()][TaskKind.values().length];
            for (Stage s : w.algorithm().stages()) {
                for (Task t : s.tasks()) {
                    counts[roles.indexOf(t.role())][t.kind().ordinal()]++;
                }
            }
            this.setPlans = new SetPlan[1 << roles.size()][sizes.size()];
        }

        PlacementResult run(int topK) {
            int full = (1 << roles.size()) - 1;
            for (int mask = 1; mask <= full; mask++) {
                for (int i = 0; i < sizes.size(); i++) {
                    setPlans[mask][i] = evaluateSet(mask, sizes.get(i));
                }
            }
            for (int i = 0; i < roles.size(); i++) {
                if (setPlans[1 << i][sizes.size() - 1] == null) {
                    throw new IllegalArgumentException("model fits on no GPU count: role=" + roles.get(i).cliName()
                            + ", parameters=" + models[i].parameterCount + ", gpus=" + c.gpus() + ", profile="
                            + c.profile().name() + ", usableBytesPerGpu=" + usable);
                }
            }
            List<List<Integer>> partitions = SetPartitions.of(roles.size());
            record Scored(double seconds, int partition, int[] allocation) {
            }
            PriorityQueue<Scored> worstFirst = new PriorityQueue<>(
                    Comparator.comparingDouble(Scored::seconds).reversed());
            long[] scored = {0};
            int stages = w.algorithm().stages().size();
            for (int pi = 0; pi < partitions.size(); pi++) {
                List<Integer> blocks = partitions.get(pi);
                List<List<Integer>> allowed = new ArrayList<>();
                for (int mask : blocks) {
                    List<Integer> ok = new ArrayList<>();
                    for (int i = 0; i < sizes.size(); i++) {
                        if (setPlans[mask][i] != null) {
                            ok.add(sizes.get(i));
                        }
                    }
                    allowed.add(ok);
                }
                int partition = pi;
                Allocations.enumerate(c.gpus(), allowed, 0, new int[blocks.size()], false, allocation -> {
                    double total = 0;
                    for (int s = 0; s < stages; s++) {
                        double slowest = 0;
                        for (int b = 0; b < blocks.size(); b++) {
                            slowest = Math.max(slowest,
                                    setPlans[blocks.get(b)][sizes.indexOf(allocation[b])].stageSeconds().get(s));
                        }
                        total += slowest;
                    }
                    scored[0]++;
                    if (worstFirst.size() < topK || total < worstFirst.peek().seconds()) {
                        worstFirst.add(new Scored(total, partition, allocation));
                        if (worstFirst.size() > topK) {
                            worstFirst.poll();
                        }
                    }
                });
            }
            if (worstFirst.isEmpty()) {
                throw new IllegalArgumentException("no placement fits in memory: algo=" + w.algorithm().cliName()
                        + ", gpus=" + c.gpus() + ", profile=" + c.profile().name() + ", usableBytesPerGpu=" + usable);
            }
            List<Scored> best = new ArrayList<>(worstFirst);
            best.sort(Comparator.comparingDouble(Scored::seconds));
            List<PlacementPlan> top = new ArrayList<>();
            for (Scored s : best) {
                top.add(placement(partitions.get(s.partition()), s.allocation()));
            }
            Map<Set<Role>, Integer> minimum = new HashMap<>();
            for (int mask = 1; mask <= full; mask++) {
                for (int i = 0; i < sizes.size(); i++) {
                    if (setPlans[mask][i] != null) {
                        minimum.put(Set.copyOf(setPlans[mask][i].roles()), sizes.get(i));
                        break;
                    }
                }
            }
            return new PlacementResult(w, c, top, partitions.size(), scored[0], minimum);
        }

        private PlacementPlan placement(List<Integer> blocks, int[] allocation) {
            List<SetPlan> sets = new ArrayList<>();
            for (int b = 0; b < blocks.size(); b++) {
                sets.add(setPlans[blocks.get(b)][sizes.indexOf(allocation[b])]);
            }
            sets.sort(Comparator.comparingInt(SetPlan::gpus).reversed());
            List<SetPlan> placed = new ArrayList<>();
            int first = 0;
            for (SetPlan s : sets) {
                placed.add(s.at(first));
                first += s.gpus();
            }
            List<String> names = new ArrayList<>();
            List<Double> stageSeconds = new ArrayList<>();
            double total = 0;
            for (int s = 0; s < w.algorithm().stages().size(); s++) {
                names.add(w.algorithm().stages().get(s).name());
                double slowest = 0;
                for (SetPlan set : placed) {
                    slowest = Math.max(slowest, set.stageSeconds().get(s));
                }
                stageSeconds.add(slowest);
                total += slowest;
            }
            return new PlacementPlan(placed, names, stageSeconds, total, c.gpus() - first);
        }

        private int count(int role, TaskKind kind) {
            return counts[role][kind.ordinal()];
        }

        /** The layouts a role may take on {@code gpus} GPUs: TP a power of two inside a node, PP dividing the layers. */
        private List<Candidate> candidates(int role, int gpus) {
            ModelStats m = models[role];
            Role r = roles.get(role);
            List<Candidate> out = new ArrayList<>();
            for (int t = 1; t <= Math.min(gpus, c.gpusPerNode()) && c.gpusPerNode() % t == 0; t *= 2) {
                for (int p = 1; p <= m.layers && (long) p * t <= gpus; p++) {
                    if (m.layers % p != 0 || gpus % (p * t) != 0 || !m.accepts(p, t)) {
                        continue;
                    }
                    ParallelLayout layout = ParallelLayout.of(p, t, gpus / (p * t));
                    long transientBytes = 0;
                    double seconds = 0;
                    if (count(role, TaskKind.INFER) > 0 || count(role, TaskKind.GENERATE) > 0) {
                        transientBytes = Math.max(transientBytes, CostModel.inferTransientBytes(r, m, layout, w));
                        seconds += count(role, TaskKind.INFER) * CostModel.inferSeconds(m, layout, w, c);
                    }
                    if (count(role, TaskKind.TRAIN) > 0) {
                        transientBytes = Math.max(transientBytes, CostModel.trainTransientBytes(r, m, layout, w));
                        seconds += count(role, TaskKind.TRAIN) * CostModel.trainSeconds(m, layout, w, c);
                    }
                    out.add(new Candidate(layout, CostModel.residentBytes(r, m, layout), transientBytes, seconds));
                }
            }
            out.sort(Comparator.comparingDouble(Candidate::fixedSeconds));
            return out;
        }

        /** A lower bound of the actor's generation plus transition seconds for {@code train}; infinite if none fits. */
        private double generationBound(int role, ParallelLayout train, long free) {
            double best = Double.POSITIVE_INFINITY;
            for (GenChoice o : generationOptions(role, train, free)) {
                best = Math.min(best, o.seconds());
            }
            return best;
        }

        /** Every generation layout for {@code train} that fits, scored with the Table 2 mean transition bytes. */
        private List<GenChoice> generationOptions(int role, ParallelLayout train, long free) {
            ModelStats m = models[role];
            int gens = count(role, TaskKind.GENERATE);
            List<GenChoice> options = new ArrayList<>();
            long tp = (long) train.t() * train.p();
            for (int tg = 1; tg <= train.t(); tg *= 2) {
                if (train.t() % tg != 0) {
                    continue;
                }
                for (int pg = 1; pg <= train.p(); pg++) {
                    if (train.p() % pg != 0) {
                        continue;
                    }
                    CostModel.GenerationCost cost = CostModel.generation(m, train, pg, tg, w, c, free);
                    if (cost != null) {
                        long dg = tp / ((long) pg * tg);
                        double boundSeconds = (dg - 1) * m.shardedBytes / tp
                                / (c.profile().nvlinkBandwidthBytesPerS() * CostModel.COLLECTIVE_BANDWIDTH_EFFICIENCY);
                        options.add(new GenChoice(pg, tg, cost, null, boundSeconds,
                                gens * cost.seconds() + boundSeconds));
                    }
                }
            }
            return options;
        }

        /**
         * The fastest generation layout for {@code train} with {@code free} bytes per rank, if it beats {@code budget}.
         * Options are tried in order of a lower bound (generation seconds plus Table 2's mean bytes per rank,
         * {@code (d_g-1)*M/(t*p)}, over NVLink; no rank receives less than the mean), and {@code ReshardPlanner} is
         * asked for the exact bytes only of options whose bound still beats the best so far.
         */
        private GenChoice bestGeneration(int role, ParallelLayout train, long free, double budget) {
            ModelStats m = models[role];
            List<GenChoice> options = generationOptions(role, train, free);
            options.sort(Comparator.comparingDouble(GenChoice::seconds));
            GenChoice best = null;
            double bestSeconds = budget;
            for (GenChoice o : options) {
                if (o.seconds() >= bestSeconds) {
                    break;
                }
                double genSeconds = o.seconds() - o.transitionSeconds();
                Transition tr = o.pg() == train.p() && o.tg() == train.t() ? NO_TRANSITION
                        : transition(m, train.p(), train.t(), o.pg(), o.tg(), c.gpusPerNode());
                double trSeconds = CostModel.transitionSeconds(tr.bytesPerRank(), tr.crossesNodes(), c);
                double total = genSeconds + trSeconds;
                if (total < bestSeconds) {
                    bestSeconds = total;
                    best = new GenChoice(o.pg(), o.tg(), o.cost(), tr, trSeconds, total);
                }
            }
            return best;
        }

        /** Layouts chosen for some roles of a set: summed resident bytes, largest transient, summed seconds. */
        private record Partial(long resident, long transientBytes, double seconds, Candidate[] choice)
                implements Footprint {
        }

        /**
         * The entries (candidates or partial sets) no other entry beats on resident bytes, transient bytes and seconds
         * at once: {@code sortedBySeconds} is in order of seconds, so an entry is beaten by an earlier one that needs
         * no more of either memory.
         */
        private static <T extends Footprint> List<T> pareto(List<T> sortedBySeconds) {
            List<T> kept = new ArrayList<>();
            for (T c : sortedBySeconds) {
                boolean dominated = false;
                for (T k : kept) {
                    if (k.resident() <= c.resident() && k.transientBytes() <= c.transientBytes()) {
                        dominated = true;
                        break;
                    }
                }
                if (!dominated) {
                    kept.add(c);
                }
            }
            return kept;
        }

        /**
         * The set of roles {@code mask} on {@code gpus} GPUs with the fastest layouts that fit together, or null if
         * none fit. Exact over the candidate layouts: the roles other than the actor are combined into the Pareto
         * front of (resident bytes, transient bytes, seconds); the actor, whose generation speed depends on the
         * memory the others leave free, is then tried against every point of that front.
         */
        private SetPlan evaluateSet(int mask, int gpus) {
            List<Integer> members = new ArrayList<>();
            for (int i = 0; i < roles.size(); i++) {
                if ((mask & (1 << i)) != 0) {
                    members.add(i);
                }
            }
            int generator = -1;
            for (int k = 0; k < members.size(); k++) {
                if (count(members.get(k), TaskKind.GENERATE) > 0) {
                    generator = k;
                }
            }
            List<Partial> front = new ArrayList<>();
            front.add(new Partial(0, 0, 0, new Candidate[members.size()]));
            for (int k = 0; k < members.size(); k++) {
                if (k == generator) {
                    continue;
                }
                List<Candidate> list = pareto(candidates(members.get(k), gpus));
                List<Partial> next = new ArrayList<>();
                for (Partial f : front) {
                    for (Candidate cand : list) {
                        long resident = f.resident() + cand.resident();
                        long transientBytes = Math.max(f.transientBytes(), cand.transientBytes());
                        if (resident + transientBytes > usable) {
                            continue;
                        }
                        Candidate[] choice = f.choice().clone();
                        choice[k] = cand;
                        next.add(new Partial(resident, transientBytes, f.seconds() + cand.fixedSeconds(), choice));
                    }
                }
                next.sort(Comparator.comparingDouble(Partial::seconds).thenComparingLong(Partial::resident));
                front = pareto(next);
                if (front.isEmpty()) {
                    return null;
                }
            }
            Candidate[] chosen;
            GenChoice actorGen = null;
            if (generator < 0) {
                chosen = front.getFirst().choice();
            } else {
                chosen = null;
                double bestSeconds = Double.POSITIVE_INFINITY;
                int role = members.get(generator);
                long leastResident = Long.MAX_VALUE;
                for (Partial f : front) {
                    leastResident = Math.min(leastResident, f.resident());
                }
                // Lower bound per actor layout: generation with the most memory any front point leaves free and the
                // Table 2 mean transition; tried best bound first, so most layouts never reach ReshardPlanner.
                record Bounded(Candidate cand, double bound) {
                }
                List<Bounded> bounded = new ArrayList<>();
                for (Candidate cand : candidates(role, gpus)) {
                    double gen = generationBound(role, cand.layout(), usable - leastResident - cand.resident());
                    if (gen < Double.POSITIVE_INFINITY) {
                        bounded.add(new Bounded(cand, cand.fixedSeconds() + gen));
                    }
                }
                bounded.sort(Comparator.comparingDouble(Bounded::bound));
                for (Bounded b : bounded) {
                    Candidate cand = b.cand();
                    if (b.bound() + front.getFirst().seconds() >= bestSeconds) {
                        break;
                    }
                    for (Partial f : front) {
                        double base = cand.fixedSeconds() + f.seconds();
                        if (b.bound() + f.seconds() >= bestSeconds) {
                            break;
                        }
                        long resident = f.resident() + cand.resident();
                        if (resident + Math.max(f.transientBytes(), cand.transientBytes()) > usable) {
                            continue;
                        }
                        GenChoice gen = bestGeneration(role, cand.layout(), usable - resident, bestSeconds - base);
                        if (gen == null) {
                            continue;
                        }
                        bestSeconds = base + gen.seconds();
                        chosen = f.choice().clone();
                        chosen[generator] = cand;
                        actorGen = gen;
                    }
                }
                if (chosen == null) {
                    return null;
                }
            }
            long chosenResident = 0;
            for (Candidate cand : chosen) {
                chosenResident += cand.resident();
            }
            long peakTransient = 0;
            List<RolePlan> plans = new ArrayList<>();
            List<Role> setRoles = new ArrayList<>();
            for (int k = 0; k < members.size(); k++) {
                int role = members.get(k);
                Role r = roles.get(role);
                ModelStats m = models[role];
                ParallelLayout layout = chosen[k].layout();
                long transientBytes = chosen[k].transientBytes();
                Optional<GenerationLayout> genLayout = Optional.empty();
                double genSeconds = 0;
                double trSeconds = 0;
                long trBytes = 0;
                long concurrent = 0;
                if (count(role, TaskKind.GENERATE) > 0) {
                    GenChoice g = actorGen;
                    genLayout = Optional.of(GenerationLayout.of(layout, g.pg(), g.tg()));
                    HybridLayout.of(layout, genLayout.get());
                    genSeconds = g.cost().seconds();
                    trSeconds = g.transitionSeconds();
                    trBytes = g.transition().bytesPerRank();
                    concurrent = g.cost().concurrentSequences();
                    transientBytes = Math.max(transientBytes, g.cost().extraWeightBytes() + g.cost().kvCacheBytes());
                }
                double infer = count(role, TaskKind.INFER) > 0 ? CostModel.inferSeconds(m, layout, w, c) : 0;
                double train = count(role, TaskKind.TRAIN) > 0 ? CostModel.trainSeconds(m, layout, w, c) : 0;
                peakTransient = Math.max(peakTransient, transientBytes);
                setRoles.add(r);
                plans.add(new RolePlan(r, layout, genLayout, chosen[k].resident(), transientBytes, genSeconds,
                        trSeconds, trBytes, infer, train, concurrent));
            }
            List<Double> stageSeconds = new ArrayList<>();
            boolean transitionCounted = false;
            for (Stage stage : w.algorithm().stages()) {
                double seconds = 0;
                for (Task task : stage.tasks()) {
                    int k = setRoles.indexOf(task.role());
                    if (k < 0) {
                        continue;
                    }
                    RolePlan rp = plans.get(k);
                    seconds += rp.taskSeconds(task.kind());
                    if (task.kind() == TaskKind.GENERATE && !transitionCounted) {
                        seconds += rp.transitionSeconds();
                        transitionCounted = true;
                    }
                }
                stageSeconds.add(seconds);
            }
            return new SetPlan(setRoles, 0, gpus, plans, stageSeconds, chosenResident + peakTransient);
        }
    }
}
