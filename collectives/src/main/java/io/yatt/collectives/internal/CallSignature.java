package io.yatt.collectives.internal;

import io.yatt.collectives.CollectiveKind;
import io.yatt.collectives.ReduceOp;
import io.yatt.tensor.DType;

import java.util.List;
import java.util.StringJoiner;

/**
 * What must agree across ranks for one call: kind, count (elements), dtype, op and root (or peer for send and
 * recv). {@code dtype}, {@code op} are null and {@code root} is -1 where they do not apply. Prints as
 * {@code allReduce(count=16, dtype=F32, op=SUM)}, the form mismatch messages use.
 */
public record CallSignature(CollectiveKind kind, long count, DType dtype, ReduceOp op, int root) {
    private static final String MISMATCH = "mismatched collective: rank ";

    /** The signature printed as in messages, without building a record. */
    public static String describe(CollectiveKind kind, long count, DType dtype, ReduceOp op, int root) {
        StringBuilder sb = new StringBuilder(48).append(kind.opName()).append('(');
        if (kind != CollectiveKind.BARRIER && kind != CollectiveKind.SPLIT) {
            sb.append("count=").append(count).append(", dtype=").append(dtype);
            if (op != null) {
                sb.append(", op=").append(op);
            }
            if (root >= 0) {
                sb.append(kind == CollectiveKind.SEND || kind == CollectiveKind.RECV ? ", peer=" : ", root=").append(root);
            }
        }
        return sb.append(')').toString();
    }

    /** A group of calls printed as one: the call itself when there is one, {@code group(a, b)} otherwise. */
    public static String describeGroup(List<String> calls) {
        if (calls.size() == 1) {
            return calls.getFirst();
        }
        StringJoiner joiner = new StringJoiner(", ", "group(", ")");
        calls.forEach(joiner::add);
        return joiner.toString();
    }

    /**
     * The mismatch message: {@code mismatched collective: rank 0 called allReduce(count=16, dtype=F32, op=SUM) but
     * rank 1 called allReduce(count=8, dtype=F32, op=SUM)}.
     */
    public static String mismatchMessage(int rankA, String callA, int rankB, String callB) {
        return MISMATCH + rankA + " called " + callA + " but rank " + rankB + " called " + callB;
    }

    @Override
    public String toString() {
        return describe(kind, count, dtype, op, root);
    }
}
