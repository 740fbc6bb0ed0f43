package io.yatt.bench.collectives;

import java.util.Locale;

/** The collectives a sweep can time, with nccl-tests' bus-bandwidth factors. */
enum SweepOp {
    ALL_GATHER("all_gather"),
    REDUCE_SCATTER("reduce_scatter"),
    ALL_REDUCE("all_reduce"),
    BROADCAST("broadcast"),
    REDUCE("reduce"),
    ALL_TO_ALL("all_to_all");

    private final String cliName;

    SweepOp(String cliName) {
        this.cliName = cliName;
    }

    /** The name on the command line and in JSON rows. */
    String cliName() {
        return cliName;
    }

    /** busbw = algbw * factor: (n-1)/n for all-gather, reduce-scatter and all-to-all, 2(n-1)/n all-reduce, 1 else. */
    double busFactor(int n) {
        return switch (this) {
            case ALL_GATHER, REDUCE_SCATTER, ALL_TO_ALL -> (n - 1) / (double) n;
            case ALL_REDUCE -> 2.0 * (n - 1) / n;
            case BROADCAST, REDUCE -> 1.0;
        };
    }

    boolean reduces() {
        return this == REDUCE_SCATTER || this == ALL_REDUCE || this == REDUCE;
    }

    boolean rooted() {
        return this == BROADCAST || this == REDUCE;
    }

    /**
     * Parses a command-line name ({@code all_gather}, also {@code allgather}, {@code ag}).
     *
     * @throws IllegalArgumentException naming the accepted values
     */
    static SweepOp parse(String name) {
        String n = name.trim().toLowerCase(Locale.ROOT).replace("-", "_");
        for (SweepOp op : values()) {
            if (op.cliName.equals(n) || op.cliName.replace("_", "").equals(n)) {
                return op;
            }
        }
        return switch (n) {
            case "ag" -> ALL_GATHER;
            case "rs" -> REDUCE_SCATTER;
            case "ar" -> ALL_REDUCE;
            case "bc", "bcast" -> BROADCAST;
            default -> throw new IllegalArgumentException("unknown op: op=" + name + ", expected one of all_gather, "
                + "reduce_scatter, all_reduce, broadcast, reduce, all_to_all, all");
        };
    }
}
