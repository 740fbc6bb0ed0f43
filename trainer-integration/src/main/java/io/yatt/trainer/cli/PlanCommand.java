package io.yatt.trainer.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.yatt.hybrid.HybridLayout;
import io.yatt.hybrid.RankCoordinates;
import java.io.PrintWriter;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/** {@code yatt plan}: plans computed without running anything. */
@Command(name = "plan", mixinStandardHelpOptions = true,
        description = "Plan parallel layouts without running anything.",
        subcommands = {PlanCommand.Layout.class, PlacementCommand.class})
final class PlanCommand {

    /** {@code yatt plan layout}: rank groups of a training layout and its generation layout. */
    @Command(name = "layout", mixinStandardHelpOptions = true,
            description = {"Print the training TP, PP, DP groups, the generation TP and PP groups and the",
                "micro-DP groups (HybridFlow's 3D-HybridEngine), plus each rank's coordinates."})
    static final class Layout implements Callable<Integer> {
        @Spec
        CommandSpec spec;

        @Option(names = "--train", required = true, paramLabel = "p-t-d",
                description = "Training layout: pipeline, tensor and data parallel sizes, e.g. 1-4-2.")
        String train;

        @Option(names = "--gen", required = true, paramLabel = "p_g-t_g-d_g",
                description = "Generation layout p_g-t_g-d_g (d carried over) or the paper's p_g-t_g-d_g-d, e.g. 1-2-2.")
        String gen;

        @Option(names = "--json", description = "Print one JSON object: tpGroups, ppGroups, dpGroups, genTpGroups, "
                + "genPpGroups, microDpGroups (lists of rank lists), vanillaGroups, ranks.")
        boolean json;

        @Override
        public Integer call() throws Exception {
            HybridLayout layout;
            try {
                layout = HybridLayout.parse(train, gen);
            } catch (IllegalArgumentException e) {
                throw new ParameterException(spec.commandLine(), e.getMessage(), e);
            }
            PrintWriter out = spec.commandLine().getOut();
            if (json) {
                Map<String, Object> m = new LinkedHashMap<>();
                m.put("train", layout.train().toString());
                m.put("gen", layout.gen().toString());
                m.put("worldSize", layout.worldSize());
                m.put("microDpSize", layout.dg());
                m.putAll(layout.groupFields());
                m.put("vanillaGroups", layout.vanillaGroups());
                m.put("ranks", layout.worldSize() == 0 ? List.of() : ranks(layout));
                out.println(new ObjectMapper().writeValueAsString(m));
            } else {
                out.print(text(layout));
            }
            out.flush();
            return 0;
        }

        private static List<Map<String, Integer>> ranks(HybridLayout layout) {
            return java.util.stream.IntStream.range(0, layout.worldSize()).mapToObj(r -> {
                RankCoordinates c = layout.coordinates(r);
                Map<String, Integer> m = new LinkedHashMap<>();
                m.put("rank", c.rank());
                m.put("dp", c.dp());
                m.put("pp", c.pp());
                m.put("tp", c.tp());
                m.put("genPp", c.genPp());
                m.put("genTp", c.genTp());
                m.put("microDpRank", c.microDpRank());
                return m;
            }).toList();
        }

        private static String text(HybridLayout layout) {
            StringBuilder b = new StringBuilder();
            b.append(String.format(Locale.ROOT, "training %s (p-t-d), generation %s (p_g-t_g-d_g-d), %d ranks, micro-DP size %d%n",
                    layout.train(), layout.gen(), layout.worldSize(), layout.dg()));
            for (Map.Entry<String, List<List<Integer>>> e : layout.groupFields().entrySet()) {
                b.append(String.format(Locale.ROOT, "%-14s %s%n", e.getKey(), e.getValue()));
            }
            b.append(String.format(Locale.ROOT, "%-14s %s%n", "vanillaGroups", layout.vanillaGroups()));
            b.append(String.format(Locale.ROOT, "%n%6s %4s %4s %4s %7s %7s %12s%n",
                    "rank", "dp", "pp", "tp", "genPp", "genTp", "microDpRank"));
            for (int r = 0; r < layout.worldSize(); r++) {
                RankCoordinates c = layout.coordinates(r);
                b.append(String.format(Locale.ROOT, "%6d %4d %4d %4d %7d %7d %12d%n",
                        c.rank(), c.dp(), c.pp(), c.tp(), c.genPp(), c.genTp(), c.microDpRank()));
            }
            return b.toString();
        }
    }
}
