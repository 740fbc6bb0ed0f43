package io.yatt.hybrid;

import java.util.ArrayList;
import java.util.List;

/**
 * One step of a rank's {@link RankPlan}: what the executor runs, in order, as plain values (positions in elements of
 * the plan's dtype). Immutable and thread-safe.
 */
public sealed interface ReshardStep {

    /**
     * {@code count} runs of {@code length} elements, seen from both sides: the source in the sender's flat training
     * storage, the target in the receiver's gather buffer. A side with {@code count == 1} is the contiguous elements
     * {@code [base + col, base + col + length)}; otherwise row {@code i} is {@code [base + i*stride + col, +length)}.
     *
     * @param srcBase source start
     * @param srcCol source column offset
     * @param srcStride source row stride (0 for one run)
     * @param dstBase target start
     * @param dstCol target column offset
     * @param dstStride target row stride (0 for one run)
     * @param length elements per run
     * @param count runs
     */
    record Piece(long srcBase, long srcCol, long srcStride, long dstBase, long dstCol, long dstStride, long length,
                 long count) {
        /** Elements of the piece. */
        public long numel() {
            return length * count;
        }
    }

    /**
     * A local copy inside this rank's buffer: {@code length} elements from {@code source} to {@code target}.
     *
     * @param source first element read
     * @param target first element written
     * @param length elements
     */
    record Move(long source, long target, long length) {
    }

    /**
     * HybridFlow's own fused components (the {@code k}, {@code v} or {@code up} parts of a fused training shard that
     * sits contiguously at its first component's slot) moved within the generation buffer, in the given order, which
     * never overwrites a source still to be read; no scratch.
     *
     * @param moves the copies, in order
     */
    record LocalMoves(List<Move> moves) implements ReshardStep {
        /** Defensive copy. */
        public LocalMoves {
            moves = List.copyOf(moves);
        }

        /** Elements copied. */
        public long elements() {
            long n = 0;
            for (Move m : moves) {
                n += m.length();
            }
            return n;
        }
    }

    /**
     * One all-gather of views ({@code Communicator.allGatherv}) over {@code group}: member {@code i} (rank
     * {@code ranks.get(i)}) sends its {@code pieces.get(i)}, and every member receives them at the same targets of
     * its own buffer, each byte copied once, straight into place. {@code sendsFromTargets}: a member's pieces are
     * read at their target positions in its own buffer, where its training shard already lives (HybridFlow, so its
     * own pieces never move); otherwise they are read at their sources in its training storage.
     *
     * @param group which group
     * @param ranks the members, in piece-list order
     * @param own this rank's index in {@code ranks}
     * @param pieces each member's pieces, in order
     * @param bufferElements elements of the receiving buffer
     * @param sendsFromTargets whether members send from their targets (see above)
     * @param replicated whether it gathers replicated parameters (outside Table 2's M)
     */
    record Gather(GroupKind group, List<Integer> ranks, int own, List<List<Piece>> pieces, long bufferElements,
                  boolean sendsFromTargets, boolean replicated) implements ReshardStep {
        /** Defensive copies. */
        public Gather {
            ranks = List.copyOf(ranks);
            List<List<Piece>> copy = new ArrayList<>(pieces.size());
            for (List<Piece> list : pieces) {
                copy.add(List.copyOf(list));
            }
            pieces = List.copyOf(copy);
        }

        /** Elements member {@code index} sends. */
        public long sentElements(int index) {
            long n = 0;
            for (Piece piece : pieces.get(index)) {
                n += piece.numel();
            }
            return n;
        }

        /** Elements this rank receives from the other members. */
        public long receivedElements() {
            long n = 0;
            for (int i = 0; i < pieces.size(); i++) {
                if (i != own) {
                    n += sentElements(i);
                }
            }
            return n;
        }
    }
}
