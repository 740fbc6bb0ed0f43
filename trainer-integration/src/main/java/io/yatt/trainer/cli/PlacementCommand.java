package io.yatt.trainer.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.yatt.controller.placement.Algorithm;
import io.yatt.controller.placement.Cluster;
import io.yatt.controller.placement.DeviceProfile;
import io.yatt.controller.placement.LlamaSize;
import io.yatt.controller.placement.PlacementPlan;
import io.yatt.controller.placement.PlacementPlanner;
import io.yatt.controller.placement.PlacementResult;
import io.yatt.controller.placement.Role;
import io.yatt.controller.placement.RolePlan;
import io.yatt.controller.placement.SetPlan;
import io.yatt.controller.placement.Workload;
import io.yatt.hybrid.ReshardScheme;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/** {@code yatt plan placement}: HybridFlow's auto-mapping of an RLHF workload onto a cluster. */
@Command(name = "placement", mixinStandardHelpOptions = true,
        description = {"Choose where each model runs (colocated sets, GPUs) and how it is parallelised, by",
            "HybridFlow's auto-mapping over an analytic cost model; print the best placement, each role's",
            "layouts, the predicted seconds per stage and the top k. See docs/placement.md."})
final class PlacementCommand implements Callable<Integer> {
    private static final double GB = 1e9;

    @Spec
    CommandSpec spec;

    @Option(names = "--algo", defaultValue = "ppo", description = "ppo | grpo | remax | safe-rlhf (default ${DEFAULT-VALUE})")
    String algo;

    @Option(names = "--model", defaultValue = "7b", description = "Llama size of every model: 7b | 13b | 34b | 70b (default ${DEFAULT-VALUE})")
    String model;

    @Option(names = "--gpus", required = true, description = "GPUs in the cluster (a multiple of --gpus-per-node)")
    int gpus;

    @Option(names = "--gpus-per-node", defaultValue = "8", description = "GPUs per node (default ${DEFAULT-VALUE})")
    int gpusPerNode;

    @Option(names = "--profile", defaultValue = "a100",
            description = "a100 | h100 | h200, or a device profile JSON file (default ${DEFAULT-VALUE})")
    String profile;

    @Option(names = "--calibrate", paramLabel = "FILE",
            description = "output of 'yatt bench collectives --json' or 'yatt bench reshard --json': replaces the "
                    + "profile's bandwidths with the measured ones (repeatable)")
    List<Path> calibrate = new ArrayList<>();

    @Option(names = "--batch", defaultValue = "1024", description = "sequences per iteration (default ${DEFAULT-VALUE})")
    int batch;

    @Option(names = "--prompt", defaultValue = "1024", description = "prompt tokens (default ${DEFAULT-VALUE})")
    int prompt;

    @Option(names = "--response", defaultValue = "1024", description = "response tokens (default ${DEFAULT-VALUE})")
    int response;

    @Option(names = "--top", defaultValue = "5", description = "placements to list (default ${DEFAULT-VALUE})")
    int top;

    @Option(names = "--json", description = "Print one JSON object instead of text.")
    boolean json;

    @Override
    public Integer call() throws Exception {
        PlacementPlanner planner = PlacementPlanner.create();
        PlacementResult result;
        try {
            Workload workload = Workload.of(Algorithm.parse(algo), LlamaSize.parse(model).config(), batch, prompt,
                    response);
            Cluster cluster = Cluster.of(gpus, gpusPerNode, profile());
            result = planner.plan(workload, cluster, top);
        } catch (IllegalArgumentException e) {
            throw new ParameterException(spec.commandLine(), e.getMessage(), e);
        }
        Map<ReshardScheme, Long> volumes = planner.transitionVolumes(result, result.best());
        PrintWriter out = spec.commandLine().getOut();
        if (json) {
            out.println(new ObjectMapper().writeValueAsString(json(result, volumes)));
        } else {
            out.print(text(result, volumes));
        }
        out.flush();
        return 0;
    }

    private DeviceProfile profile() throws IOException {
        DeviceProfile base;
        Path file = Path.of(profile);
        if (profile.toLowerCase(Locale.ROOT).endsWith(".json")) {
            if (!Files.isRegularFile(file)) {
                throw new IllegalArgumentException("device profile file not found: profile=" + profile);
            }
            try (InputStream in = Files.newInputStream(file)) {
                base = DeviceProfile.parse(in, profile);
            }
        } else {
            base = DeviceProfile.builtIn(profile);
        }
        if (calibrate.isEmpty()) {
            return base;
        }
        List<String> lines = new ArrayList<>();
        for (Path p : calibrate) {
            if (!Files.isRegularFile(p)) {
                throw new IllegalArgumentException("calibration file not found: calibrate=" + p);
            }
            lines.addAll(Files.readAllLines(p));
        }
        return base.calibrated(lines);
    }

    private String model() {
        return model.toLowerCase(Locale.ROOT);
    }

    private String text(PlacementResult result, Map<ReshardScheme, Long> volumes) {
        StringBuilder b = new StringBuilder();
        Cluster c = result.cluster();
        Workload w = result.workload();
        PlacementPlan best = result.best();
        b.append(String.format(Locale.ROOT, "# yatt plan placement: algo=%s, model=%s, gpus=%d (%d x %d), profile=%s, "
                        + "batch=%d, prompt=%d, response=%d%n", w.algorithm().cliName(), model(), c.gpus(), c.nodes(),
                c.gpusPerNode(), c.profile().name(), w.globalBatchSequences(), w.promptTokens(), w.responseTokens()));
        b.append(String.format(Locale.ROOT, "# %d set partitions, %d placements scored%n", result.partitions(),
                result.placementsScored()));
        b.append("# minimum GPUs from memory:");
        for (Map.Entry<String, Integer> e : minimumGpus(result).entrySet()) {
            b.append(' ').append(e.getKey()).append('=').append(e.getValue());
        }
        b.append(String.format(Locale.ROOT, "%n"));
        b.append(String.format(Locale.ROOT, "best: %s %s, %.1f s/iteration%s%n", best.kind(), best.describe(),
                best.iterationSeconds(), best.idleGpus() == 0 ? "" : ", " + best.idleGpus() + " GPUs idle"));
        for (int s = 0; s < best.stageNames().size(); s++) {
            b.append(String.format(Locale.ROOT, "  stage %-12s %8.1f s%n", best.stageNames().get(s),
                    best.stageSeconds().get(s)));
        }
        b.append(String.format(Locale.ROOT, "%n%-10s %-9s %-9s %-11s %9s %9s %9s %9s %9s %8s%n", "role", "gpus",
                "train", "generation", "gen (s)", "trans (s)", "infer (s)", "train (s)", "mem (GB)", "kv seqs"));
        for (SetPlan set : best.sets()) {
            for (RolePlan r : set.rolePlans()) {
                b.append(String.format(Locale.ROOT, "%-10s %-9s %-9s %-11s %9.1f %9.2f %9.1f %9.1f %9.1f %8s%n",
                        r.role().cliName(), set.gpuRange(), r.layout(),
                        r.generation().map(Object::toString).orElse("-"), r.generateSeconds(), r.transitionSeconds(),
                        r.inferSeconds(), r.trainSeconds(), (r.residentBytesPerRank() + r.peakTransientBytesPerRank()) / GB,
                        r.concurrentSequences() == 0 ? "-" : Long.toString(r.concurrentSequences())));
            }
        }
        for (SetPlan set : best.sets()) {
            b.append(String.format(Locale.ROOT, "set %-9s peak %.1f GB per GPU of %.1f GB%n", set.gpuRange(),
                    set.peakBytesPerRank() / GB, c.profile().hbmByteSize() / GB));
        }
        b.append(String.format(Locale.ROOT, "%nactor transition, bytes received per rank (DESIGN.md Table 2):%n"));
        for (Map.Entry<ReshardScheme, Long> e : volumes.entrySet()) {
            b.append(String.format(Locale.ROOT, "  %-13s %8.3f GB%n", e.getKey().cliName(), e.getValue() / GB));
        }
        b.append(String.format(Locale.ROOT, "%ntop %d:%n", result.top().size()));
        for (int i = 0; i < result.top().size(); i++) {
            PlacementPlan p = result.top().get(i);
            b.append(String.format(Locale.ROOT, "  %d. %8.1f s  %-10s %s%n", i + 1, p.iterationSeconds(), p.kind(),
                    p.describe()));
        }
        return b.toString();
    }

    private Map<String, Object> json(PlacementResult result, Map<ReshardScheme, Long> volumes) {
        Map<String, Object> m = new LinkedHashMap<>();
        Cluster c = result.cluster();
        m.put("algo", result.workload().algorithm().cliName());
        m.put("model", model());
        m.put("gpus", c.gpus());
        m.put("gpusPerNode", c.gpusPerNode());
        m.put("profile", c.profile().name());
        m.put("partitions", result.partitions());
        m.put("placementsScored", result.placementsScored());
        m.put("minimumGpus", minimumGpus(result));
        m.put("best", plan(result.best()));
        Map<String, Long> v = new LinkedHashMap<>();
        volumes.forEach((k, val) -> v.put(k.cliName(), val));
        m.put("transitionBytesPerRank", v);
        m.put("top", result.top().stream().map(PlacementCommand::plan).toList());
        return m;
    }

    /** Each role alone and all roles colocated, e.g. {@code actor=2 ... all=4}; absent where nothing fits. */
    private static Map<String, Integer> minimumGpus(PlacementResult result) {
        Map<String, Integer> m = new LinkedHashMap<>();
        List<Role> roles = result.workload().roles();
        for (Role r : roles) {
            Integer n = result.minimumGpus().get(Set.of(r));
            if (n != null) {
                m.put(r.cliName(), n);
            }
        }
        Integer all = result.minimumGpus().get(Set.copyOf(roles));
        if (all != null) {
            m.put("all", all);
        }
        return m;
    }

    private static Map<String, Object> plan(PlacementPlan p) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("kind", p.kind());
        m.put("placement", p.describe());
        m.put("iterationSeconds", p.iterationSeconds());
        m.put("idleGpus", p.idleGpus());
        Map<String, Double> stages = new LinkedHashMap<>();
        for (int s = 0; s < p.stageNames().size(); s++) {
            stages.put(p.stageNames().get(s), p.stageSeconds().get(s));
        }
        m.put("stageSeconds", stages);
        List<Map<String, Object>> sets = new ArrayList<>();
        for (SetPlan set : p.sets()) {
            Map<String, Object> s = new LinkedHashMap<>();
            s.put("gpus", set.gpuRange());
            s.put("peakBytesPerRank", set.peakBytesPerRank());
            List<Map<String, Object>> roles = new ArrayList<>();
            for (RolePlan r : set.rolePlans()) {
                Map<String, Object> rm = new LinkedHashMap<>();
                rm.put("role", r.role().cliName());
                rm.put("train", r.layout().toString());
                rm.put("generation", r.generation().map(Object::toString).orElse(null));
                rm.put("generateSeconds", r.generateSeconds());
                rm.put("transitionSeconds", r.transitionSeconds());
                rm.put("transitionBytesPerRank", r.transitionBytesPerRank());
                rm.put("inferSeconds", r.inferSeconds());
                rm.put("trainSeconds", r.trainSeconds());
                rm.put("residentBytesPerRank", r.residentBytesPerRank());
                rm.put("peakTransientBytesPerRank", r.peakTransientBytesPerRank());
                rm.put("concurrentSequences", r.concurrentSequences());
                roles.add(rm);
            }
            s.put("roles", roles);
            sets.add(s);
        }
        m.put("sets", sets);
        return m;
    }
}
