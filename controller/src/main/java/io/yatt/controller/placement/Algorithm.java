package io.yatt.controller.placement;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.EnumSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.stream.Collectors;

/**
 * The dataflow of an RLHF algorithm as HybridFlow models it: a generation stage, a preparation stage (experience
 * from every model's forward pass) and a training stage.
 */
public enum Algorithm {
    /** PPO: actor generation; actor, critic, reference and reward inference; actor and critic training. */
    PPO("ppo", List.of(
            new Stage("generation", List.of(new Task(Role.ACTOR, TaskKind.GENERATE))),
            new Stage("preparation", List.of(new Task(Role.ACTOR, TaskKind.INFER),
                    new Task(Role.CRITIC, TaskKind.INFER), new Task(Role.REFERENCE, TaskKind.INFER),
                    new Task(Role.REWARD, TaskKind.INFER))),
            new Stage("training", List.of(new Task(Role.ACTOR, TaskKind.TRAIN), new Task(Role.CRITIC, TaskKind.TRAIN))))),
    /** GRPO: PPO without a critic (group-relative advantages). */
    GRPO("grpo", List.of(
            new Stage("generation", List.of(new Task(Role.ACTOR, TaskKind.GENERATE))),
            new Stage("preparation", List.of(new Task(Role.ACTOR, TaskKind.INFER),
                    new Task(Role.REFERENCE, TaskKind.INFER), new Task(Role.REWARD, TaskKind.INFER))),
            new Stage("training", List.of(new Task(Role.ACTOR, TaskKind.TRAIN))))),
    /** ReMax: no critic; an extra greedy generation whose reward is the baseline, so the reward model runs twice. */
    REMAX("remax", List.of(
            new Stage("generation", List.of(new Task(Role.ACTOR, TaskKind.GENERATE),
                    new Task(Role.ACTOR, TaskKind.GENERATE))),
            new Stage("preparation", List.of(new Task(Role.ACTOR, TaskKind.INFER),
                    new Task(Role.REFERENCE, TaskKind.INFER), new Task(Role.REWARD, TaskKind.INFER),
                    new Task(Role.REWARD, TaskKind.INFER))),
            new Stage("training", List.of(new Task(Role.ACTOR, TaskKind.TRAIN))))),
    /** Safe-RLHF: PPO plus a cost model evaluated in the preparation stage. */
    SAFE_RLHF("safe-rlhf", List.of(
            new Stage("generation", List.of(new Task(Role.ACTOR, TaskKind.GENERATE))),
            new Stage("preparation", List.of(new Task(Role.ACTOR, TaskKind.INFER),
                    new Task(Role.CRITIC, TaskKind.INFER), new Task(Role.REFERENCE, TaskKind.INFER),
                    new Task(Role.REWARD, TaskKind.INFER), new Task(Role.COST, TaskKind.INFER))),
            new Stage("training", List.of(new Task(Role.ACTOR, TaskKind.TRAIN), new Task(Role.CRITIC, TaskKind.TRAIN)))));

    private final String cliName;
    private final List<Stage> stages;
    private final List<Role> roles;

    Algorithm(String cliName, List<Stage> stages) {
        this.cliName = cliName;
        this.stages = List.copyOf(stages);
        Set<Role> used = EnumSet.noneOf(Role.class);
        for (Stage s : stages) {
            for (Task t : s.tasks()) {
                used.add(t.role());
            }
        }
        this.roles = List.copyOf(new ArrayList<>(used));
    }

    /** The name used on the command line, e.g. {@code safe-rlhf}. */
    public String cliName() {
        return cliName;
    }

    /** The stages in order. */
    public List<Stage> stages() {
        return stages;
    }

    /** The models the dataflow uses, in {@link Role} order. */
    public List<Role> roles() {
        return roles;
    }

    /**
     * The algorithm with a CLI name (case-insensitive; {@code safe_rlhf} also accepted).
     *
     * @throws IllegalArgumentException if there is none
     */
    public static Algorithm parse(String name) {
        String key = name == null ? "" : name.strip().toLowerCase(Locale.ROOT).replace('_', '-');
        for (Algorithm a : values()) {
            if (a.cliName.equals(key)) {
                return a;
            }
        }
        throw new IllegalArgumentException("unknown algorithm: algo=" + name + ", expected one of "
                + Arrays.stream(values()).map(Algorithm::cliName).collect(Collectors.joining(", ", "[", "]")));
    }
}
