package io.yatt.hybrid;

import java.util.Arrays;
import java.util.Locale;
import java.util.stream.Collectors;

/** The ways to move actor weights from the training layout to the generation layout (docs/architecture.md, "The 3D-HybridEngine"). */
public enum ReshardScheme {
    /** HybridFlow's 3D-HybridEngine: one all-gather per micro-DP group, training shards kept in place. */
    HYBRIDFLOW("hybridflow", GroupKind.MICRO_DP),
    /** HybridFlow-V: all-gather the whole model over the training TP x PP group, then slice. */
    HYBRIDFLOW_V("hybridflow-v", GroupKind.MODEL_PARALLEL),
    /** DS-Chat: all-gather the whole model over all ranks (each DP replica contributes 1/d), then slice. */
    DS_CHAT("ds-chat", GroupKind.WORLD);

    private final String cliName;
    private final GroupKind gatherGroup;

    ReshardScheme(String cliName, GroupKind gatherGroup) {
        this.cliName = cliName;
        this.gatherGroup = gatherGroup;
    }

    /** The name used on the command line and in JSON, e.g. {@code hybridflow-v}. */
    public String cliName() {
        return cliName;
    }

    /** The group whose all-gather builds the generation weights. */
    public GroupKind gatherGroup() {
        return gatherGroup;
    }

    /**
     * The scheme with a CLI name (case-insensitive).
     *
     * @throws IllegalArgumentException if there is none
     */
    public static ReshardScheme parse(String name) {
        for (ReshardScheme s : values()) {
            if (s.cliName.equalsIgnoreCase(name == null ? "" : name.strip())) {
                return s;
            }
        }
        throw new IllegalArgumentException("unknown reshard scheme: scheme=" + name + ", expected one of "
                + Arrays.stream(values()).map(ReshardScheme::cliName).collect(Collectors.joining(", ", "[", "]")));
    }

    @Override
    public String toString() {
        return cliName.toLowerCase(Locale.ROOT);
    }
}
