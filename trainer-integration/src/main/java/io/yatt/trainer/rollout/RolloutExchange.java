package io.yatt.trainer.rollout;

import io.yatt.collectives.Communicator;
import io.yatt.collectives.ReduceOp;
import io.yatt.tensor.Allocator;
import io.yatt.tensor.DType;
import io.yatt.tensor.Device;
import io.yatt.tensor.Shape;
import io.yatt.tensor.Tensor;
import io.yatt.trainer.model.Generator;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.List;

/**
 * Moves one step's rollout from the rollout ranks to every rank of the sync communicator: one in-place integer
 * all-reduce (sum) in which each value is written by exactly one rank and every other rank contributes 0, so the sum
 * is that value bit for bit (log-probs travel as their raw float bits). Row of sample i: {@code [length, tokens[R],
 * logProbBits[R]]}; then, with a baseline, per prompt {@code [length, tokens[R]]}; then {@code [step, version]}.
 * Stateless.
 */
final class RolloutExchange {

    private RolloutExchange() {
    }

    /** What one rank contributes: rows it generated (or none), and whether it writes the step and version. */
    record Part(List<Generator.Sample> samples, int sampleFrom, List<Generator.Sample> baseline, int baselineFrom,
                boolean writesHeader, long step, long version) {

        /** A rank that contributes nothing (a trainer rank, or a rollout rank that is not a replica's first). */
        static Part none() {
            return new Part(List.of(), 0, List.of(), 0, false, 0, 0);
        }
    }

    static int length(RolloutSettings s) {
        int r = s.responseLength();
        long ints = (long) s.samples() * (1 + 2L * r) + (s.greedyBaseline() ? (long) s.prompts() * (1 + r) : 0) + 2;
        if (ints > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("rollout too large to exchange: samples=" + s.samples()
                    + ", responseLength=" + r);
        }
        return (int) ints;
    }

    /**
     * Collective over {@code comm}: every rank passes its part and gets the whole step.
     *
     * @throws IllegalStateException if the exchanged step is not {@code expectedStep}
     */
    static RolloutBatch exchange(Communicator comm, Allocator allocator, RolloutSettings s, Part part,
                                 long expectedStep) {
        int r = s.responseLength();
        int rowInts = 1 + 2 * r;
        int baseOffset = s.samples() * rowInts;
        int headerOffset = baseOffset + (s.greedyBaseline() ? s.prompts() * (1 + r) : 0);
        try (Tensor buf = Tensor.allocate(allocator, DType.I32, Shape.of(length(s)), Device.host())) {
            MemorySegment m = buf.segment();
            m.fill((byte) 0);
            for (int i = 0; i < part.samples().size(); i++) {
                Generator.Sample sample = part.samples().get(i);
                long at = (long) (part.sampleFrom() + i) * rowInts;
                put(m, at, sample.tokens().length);
                for (int j = 0; j < sample.tokens().length; j++) {
                    put(m, at + 1 + j, sample.tokens()[j]);
                    put(m, at + 1 + r + j, Float.floatToRawIntBits(sample.logProbs()[j]));
                }
            }
            for (int i = 0; i < part.baseline().size(); i++) {
                int[] tokens = part.baseline().get(i).tokens();
                long at = baseOffset + (long) (part.baselineFrom() + i) * (1 + r);
                put(m, at, tokens.length);
                for (int j = 0; j < tokens.length; j++) {
                    put(m, at + 1 + j, tokens[j]);
                }
            }
            if (part.writesHeader()) {
                put(m, headerOffset, Math.toIntExact(part.step()));
                put(m, headerOffset + 1, Math.toIntExact(part.version()));
            }
            comm.allReduce(buf, ReduceOp.SUM);
            long step = get(m, headerOffset);
            if (step != expectedStep) {
                throw new IllegalStateException("rollout exchanged another step: step=" + step + ", expected="
                        + expectedStep);
            }
            long version = get(m, headerOffset + 1);
            int[][] responses = new int[s.samples()][];
            float[][] logProbs = new float[s.samples()][];
            for (int i = 0; i < s.samples(); i++) {
                long at = (long) i * rowInts;
                int len = get(m, at);
                responses[i] = new int[len];
                logProbs[i] = new float[len];
                for (int j = 0; j < len; j++) {
                    responses[i][j] = get(m, at + 1 + j);
                    logProbs[i][j] = Float.intBitsToFloat(get(m, at + 1 + r + j));
                }
            }
            int[][] baseline = null;
            if (s.greedyBaseline()) {
                baseline = new int[s.prompts()][];
                for (int i = 0; i < s.prompts(); i++) {
                    long at = baseOffset + (long) i * (1 + r);
                    baseline[i] = new int[get(m, at)];
                    for (int j = 0; j < baseline[i].length; j++) {
                        baseline[i][j] = get(m, at + 1 + j);
                    }
                }
            }
            return new RolloutBatch(step, version, responses, logProbs, baseline);
        }
    }

    private static void put(MemorySegment m, long index, int value) {
        m.setAtIndex(ValueLayout.JAVA_INT, index, value);
    }

    private static int get(MemorySegment m, long index) {
        return m.getAtIndex(ValueLayout.JAVA_INT, index);
    }
}
