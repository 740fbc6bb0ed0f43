package io.yatt.collectives;

/**
 * Reduction operators of {@link Communicator#allReduce}, {@link Communicator#reduceScatter} and
 * {@link Communicator#reduce}, with NCCL's semantics.
 *
 * <p>Defined on F32, F64, F16, BF16, I32 and I64. Operands are combined in rank order (rank 0 first) in the
 * accumulation type: F32 for F32, F16 and BF16 (each operand widened to F32, the result rounded once to the
 * tensor's type, round-to-nearest-even), F64 for F64, and the integer type itself for I32 and I64 (two's
 * complement wrap-around on overflow). {@link #AVG} divides that sum by the communicator size once at the end;
 * on integers it is integer division truncating toward zero, as NCCL does. {@link #MAX} and {@link #MIN} follow
 * {@link Math#max(float, float)}: NaN wins, and {@code -0.0 < +0.0}. Immutable and thread-safe.
 */
public enum ReduceOp {
    /** Sum, {@code ncclSum}. */
    SUM("sum"),
    /** Product, {@code ncclProd}. */
    PROD("prod"),
    /** Maximum, {@code ncclMax}. */
    MAX("max"),
    /** Minimum, {@code ncclMin}. */
    MIN("min"),
    /** Sum divided by the communicator size, {@code ncclAvg}; integer division on integer types. */
    AVG("avg");

    private final String shortName;

    ReduceOp(String shortName) {
        this.shortName = shortName;
    }

    /** The lower-case name used in sweep output ({@code sum}, {@code prod}, ...), as nccl-tests prints it. */
    public String shortName() {
        return shortName;
    }

    /** The {@code ncclRedOp_t} code from nccl.h (ncclSum=0, ncclProd=1, ncclMax=2, ncclMin=3, ncclAvg=4). */
    public int ncclCode() {
        return ordinal();
    }
}
