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
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.PriorityQueue;
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

    /** One candidate layout of one role on one set size, with the costs that do not depend on the other roles. */
    private record Candidate(ParallelLayout layout, long resident, long transient_, double fixedSeconds) {
    }

    /** The actor's best generation choice for one training layout. */
    private record GenChoice(int pg, int tg, CostModel.GenerationCost cost, Transition transition,
                             double transitionSeconds, double seconds, long minimumTransient) {
    }

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
            return new PlacementResult(w, c, top, partitions.size(), scored[0]);
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

        /** The fastest generation layout for {@code train} with {@code free} bytes per rank, if it beats {@code budget}. */
        private GenChoice bestGeneration(int role, ParallelLayout train, long free, double budget) {
            ModelStats m = models[role];
            int gens = count(role, TaskKind.GENERATE);
            List<GenChoice> options = new ArrayList<>();
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
                        long oneSequence = cost.kvCacheBytes() / cost.concurrentSequences() + 1;
                        options.add(new GenChoice(pg, tg, cost, null, 0, gens * cost.seconds(),
                                cost.extraWeightBytes() + oneSequence));
                    }
                }
            }
            options.sort(Comparator.comparingDouble(GenChoice::seconds));
            GenChoice best = null;
            double bestSeconds = budget;
            for (GenChoice o : options) {
                if (o.seconds() >= bestSeconds) {
                    break;
                }
                Transition tr = transition(m, train.p(), train.t(), o.pg(), o.tg(), c.gpusPerNode());
                double trSeconds = CostModel.transitionSeconds(tr.bytesPerRank(), tr.crossesNodes(), c);
                double total = o.seconds() + trSeconds;
                if (total < bestSeconds) {
                    bestSeconds = total;
                    best = new GenChoice(o.pg(), o.tg(), o.cost(), tr, trSeconds, total, o.minimumTransient());
                }
            }
            return best;
        }

        /** The set of roles {@code mask} on {@code gpus} GPUs with its layouts chosen, or null if it cannot fit. */
        private SetPlan evaluateSet(int mask, int gpus) {
            List<Integer> members = new ArrayList<>();
            for (int i = 0; i < roles.size(); i++) {
                if ((mask & (1 << i)) != 0) {
                    members.add(i);
                }
            }
            List<List<Candidate>> cands = new ArrayList<>();
            long[] fallbackResident = new long[members.size()];
            long[] fallbackTransient = new long[members.size()];
            for (int k = 0; k < members.size(); k++) {
                List<Candidate> list = candidates(members.get(k), gpus);
                if (list.isEmpty()) {
                    return null;
                }
                Candidate fb = list.stream().min(Comparator.comparingLong(Candidate::resident)
                        .thenComparingLong(Candidate::transient_)).orElseThrow();
                fallbackResident[k] = fb.resident();
                fallbackTransient[k] = fb.transient_();
                cands.add(list);
            }
            long chosenResident = 0;
            long chosenTransient = 0;
            Candidate[] chosen = new Candidate[members.size()];
            GenChoice actorGen = null;
            for (int k = 0; k < members.size(); k++) {
                int role = members.get(k);
                long remResident = 0;
                long remTransient = 0;
                for (int j = k + 1; j < members.size(); j++) {
                    remResident += fallbackResident[j];
                    remTransient = Math.max(remTransient, fallbackTransient[j]);
                }
                boolean generates = count(role, TaskKind.GENERATE) > 0;
                double bestSeconds = Double.POSITIVE_INFINITY;
                Candidate best = null;
                GenChoice bestGen = null;
                long bestTransient = 0;
                for (Candidate cand : cands.get(k)) {
                    if (cand.fixedSeconds() >= bestSeconds) {
                        break;
                    }
                    long resident = chosenResident + cand.resident() + remResident;
                    long others = Math.max(chosenTransient, remTransient);
                    long candTransient = cand.transient_();
                    double seconds = cand.fixedSeconds();
                    GenChoice gen = null;
                    if (generates) {
                        gen = bestGeneration(role, cand.layout(), usable - resident, bestSeconds - seconds);
                        if (gen == null) {
                            continue;
                        }
                        candTransient = Math.max(candTransient, gen.minimumTransient());
                        seconds += gen.seconds();
                    }
                    if (resident + Math.max(others, candTransient) > usable || seconds >= bestSeconds) {
                        continue;
                    }
                    bestSeconds = seconds;
                    best = cand;
                    bestGen = gen;
                    bestTransient = candTransient;
                }
                if (best == null) {
                    return null;
                }
                chosen[k] = best;
                chosenResident += best.resident();
                chosenTransient = Math.max(chosenTransient, bestTransient);
                if (generates) {
                    actorGen = bestGen;
                }
            }
            long peakTransient = 0;
            List<RolePlan> plans = new ArrayList<>();
            List<Role> setRoles = new ArrayList<>();
            for (int k = 0; k < members.size(); k++) {
                int role = members.get(k);
                Role r = roles.get(role);
                ModelStats m = models[role];
                ParallelLayout layout = chosen[k].layout();
                long transientBytes = chosen[k].transient_();
                Optional<GenerationLayout> genLayout = Optional.empty();
                double genSeconds = 0;
                double trSeconds = 0;
                long trBytes = 0;
                long concurrent = 0;
                if (count(role, TaskKind.GENERATE) > 0) {
                    GenChoice g = bestGeneration(role, layout, usable - chosenResident, Double.POSITIVE_INFINITY);
                    if (g == null) {
                        g = actorGen;
                    }
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
