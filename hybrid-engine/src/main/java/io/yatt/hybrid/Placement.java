package io.yatt.hybrid;

import java.util.Locale;

/**
 * How a logical tensor lies over the ranks of one mesh dimension, as plain values: {@code Shard(dim)} ("S(0)"),
 * {@code Replicate} ("R") and {@code Partial(op)} ("P(sum)"). Immutable and thread-safe.
 */
public sealed interface Placement {

    /** The placement's short form: {@code S(0)}, {@code R} or {@code P(sum)}. */
    String shortForm();

    /** Each rank holds one contiguous slice of the tensor along {@code dim}. */
    record Shard(int dim) implements Placement {
        /**
         * @throws IllegalArgumentException if dim is negative
         */
        public Shard {
            if (dim < 0) {
                throw new IllegalArgumentException("shard dim must be non-negative: dim=" + dim);
            }
        }

        @Override
        public String shortForm() {
            return "S(" + dim + ")";
        }

        @Override
        public String toString() {
            return shortForm();
        }
    }

    /** Every rank holds the whole tensor. */
    record Replicate() implements Placement {
        @Override
        public String shortForm() {
            return "R";
        }

        @Override
        public String toString() {
            return shortForm();
        }
    }

    /** Every rank holds a partial value; the logical tensor is their reduction with {@code op}. */
    record Partial(PartialOp op) implements Placement {
        /**
         * @throws NullPointerException if op is null
         */
        public Partial {
            java.util.Objects.requireNonNull(op, "op");
        }

        @Override
        public String shortForm() {
            return "P(" + op.shortName() + ")";
        }

        @Override
        public String toString() {
            return shortForm();
        }
    }

    /** The reductions a {@link Partial} placement can pend. */
    enum PartialOp {
        SUM, AVG, MAX, MIN, PROD;

        /** Lower-case name used in short forms, e.g. {@code sum}. */
        public String shortName() {
            return name().toLowerCase(Locale.ROOT);
        }
    }

    /** {@code Shard(dim)}. */
    static Placement shard(int dim) {
        return new Shard(dim);
    }

    /** {@code Replicate}. */
    static Placement replicate() {
        return new Replicate();
    }

    /** {@code Partial(op)}. */
    static Placement partial(PartialOp op) {
        return new Partial(op);
    }

    /**
     * Parses a short form: {@code S(<dim>)}, {@code R} or {@code P(<op>)} with op one of sum, avg, max, min, prod
     * (case-insensitive, surrounding spaces ignored).
     *
     * @throws IllegalArgumentException if the text is not a placement
     */
    static Placement parse(String text) {
        if (text == null) {
            throw new IllegalArgumentException("cannot parse placement: text=null, expected S(<dim>), R or P(<op>)");
        }
        String s = text.strip();
        String upper = s.toUpperCase(Locale.ROOT);
        if (upper.equals("R")) {
            return new Replicate();
        }
        if (upper.length() > 3 && upper.charAt(1) == '(' && upper.endsWith(")")) {
            String arg = s.substring(2, s.length() - 1).strip();
            if (upper.charAt(0) == 'S') {
                try {
                    return new Shard(Integer.parseInt(arg));
                } catch (NumberFormatException e) {
                    // fall through to the error below
                }
            } else if (upper.charAt(0) == 'P') {
                for (PartialOp op : PartialOp.values()) {
                    if (op.shortName().equalsIgnoreCase(arg)) {
                        return new Partial(op);
                    }
                }
            }
        }
        throw new IllegalArgumentException("cannot parse placement: text=" + text + ", expected S(<dim>), R or P(<op>)"
                + " with op one of sum, avg, max, min, prod");
    }
}
