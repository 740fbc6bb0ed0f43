package io.yatt.collectives;

import io.yatt.tensor.DType;
import io.yatt.tensor.Half;
import io.yatt.tensor.Shape;
import io.yatt.tensor.Tensor;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.SplittableRandom;

/**
 * Deterministic per-rank inputs and a straightforward reference for every collective, on byte arrays in native
 * order. The reduction reference combines operands element by element in rank order in the accumulation type
 * (F32 for F32/F16/BF16 using {@link Half} to widen and to round once, F64, wrapping I32/I64), then divides once for
 * AVG: the contract of {@link ReduceOp}, which backends must match bit for bit.
 */
public final class CollectiveTestData {
    private CollectiveTestData() {
    }

    /** Rank {@code rank}'s input of {@code count} elements for a test seeded with {@code seed}. */
    public static byte[] input(DType dtype, int rank, long count, long seed) {
        SplittableRandom random = new SplittableRandom(seed * 0x9E3779B97F4A7C15L + rank * 0xC2B2AE3D27D4EB4FL + 17);
        ByteBuffer out = buffer(new byte[Math.toIntExact(count * dtype.byteSize())]);
        for (long i = 0; i < count; i++) {
            // Floats: 18 fraction bits in [-2, 2), more than BF16/F16 keep, so rounding order matters.
            double value = (random.nextInt(1 << 20) - (1 << 19)) / (double) (1 << 18);
            switch (dtype) {
                case F32 -> out.putFloat((float) value);
                case F64 -> out.putDouble(value + random.nextDouble() * 0x1p-30);
                case F16 -> out.putShort(Half.floatToF16((float) value));
                case BF16 -> out.putShort(Half.floatToBf16((float) value));
                case I32 -> out.putInt(random.nextInt(-100, 101));
                case I64 -> out.putLong(random.nextLong(-1_000_000L, 1_000_001L));
                case I8, U8 -> out.put((byte) random.nextInt(256));
                case BOOL -> out.put((byte) random.nextInt(2));
            }
        }
        return out.array();
    }

    /** The inputs of every rank. */
    public static byte[][] inputs(DType dtype, int size, long count, long seed) {
        byte[][] inputs = new byte[size][];
        for (int r = 0; r < size; r++) {
            inputs[r] = input(dtype, r, count, seed);
        }
        return inputs;
    }

    /**
     * Element-wise {@code op} over {@code inputs[0..n)} (rank order) of the elements {@code [offset, offset + count)};
     * AVG divides by {@code inputs.length}.
     */
    public static byte[] reduce(DType dtype, ReduceOp op, byte[][] inputs, long offset, long count) {
        int es = dtype.byteSize();
        int n = inputs.length;
        ByteBuffer out = buffer(new byte[Math.toIntExact(count * es)]);
        ByteBuffer[] in = new ByteBuffer[n];
        for (int q = 0; q < n; q++) {
            in[q] = buffer(inputs[q]);
        }
        for (long i = 0; i < count; i++) {
            int at = Math.toIntExact((offset + i) * es);
            switch (dtype) {
                case F32, F16, BF16 -> {
                    float acc = readFloat(dtype, in[0], at);
                    for (int q = 1; q < n; q++) {
                        float x = readFloat(dtype, in[q], at);
                        acc = switch (op) {
                            case SUM, AVG -> acc + x;
                            case PROD -> acc * x;
                            case MAX -> Math.max(acc, x);
                            case MIN -> Math.min(acc, x);
                        };
                    }
                    if (op == ReduceOp.AVG) {
                        acc = acc / n;
                    }
                    switch (dtype) {
                        case F32 -> out.putFloat(acc);
                        case F16 -> out.putShort(Half.floatToF16(acc));
                        default -> out.putShort(Half.floatToBf16(acc));
                    }
                }
                case F64 -> {
                    double acc = in[0].getDouble(at);
                    for (int q = 1; q < n; q++) {
                        double x = in[q].getDouble(at);
                        acc = switch (op) {
                            case SUM, AVG -> acc + x;
                            case PROD -> acc * x;
                            case MAX -> Math.max(acc, x);
                            case MIN -> Math.min(acc, x);
                        };
                    }
                    out.putDouble(op == ReduceOp.AVG ? acc / n : acc);
                }
                case I32 -> {
                    int acc = in[0].getInt(at);
                    for (int q = 1; q < n; q++) {
                        int x = in[q].getInt(at);
                        acc = switch (op) {
                            case SUM, AVG -> acc + x;
                            case PROD -> acc * x;
                            case MAX -> Math.max(acc, x);
                            case MIN -> Math.min(acc, x);
                        };
                    }
                    out.putInt(op == ReduceOp.AVG ? acc / n : acc);
                }
                case I64 -> {
                    long acc = in[0].getLong(at);
                    for (int q = 1; q < n; q++) {
                        long x = in[q].getLong(at);
                        acc = switch (op) {
                            case SUM, AVG -> acc + x;
                            case PROD -> acc * x;
                            case MAX -> Math.max(acc, x);
                            case MIN -> Math.min(acc, x);
                        };
                    }
                    out.putLong(op == ReduceOp.AVG ? acc / n : acc);
                }
                default -> throw new IllegalArgumentException("no reduction on dtype=" + dtype);
            }
        }
        return out.array();
    }

    /** The arrays one after another. */
    public static byte[] concat(byte[]... parts) {
        int total = 0;
        for (byte[] part : parts) {
            total += part.length;
        }
        byte[] out = new byte[total];
        int at = 0;
        for (byte[] part : parts) {
            System.arraycopy(part, 0, out, at, part.length);
            at += part.length;
        }
        return out;
    }

    /** Elements {@code [offset, offset + count)} of {@code data}. */
    public static byte[] slice(DType dtype, byte[] data, long offset, long count) {
        int es = dtype.byteSize();
        return Arrays.copyOfRange(data, Math.toIntExact(offset * es), Math.toIntExact((offset + count) * es));
    }

    /** A 1-D tensor on the context's device holding {@code content}. */
    public static Tensor tensor(RankContext context, DType dtype, byte[] content) {
        long count = content.length / dtype.byteSize();
        Tensor host = Tensor.allocate(context.allocator(), dtype, Shape.of(count), io.yatt.tensor.Device.host());
        if (content.length > 0) {
            MemorySegment.copy(content, 0, host.segment(), ValueLayout.JAVA_BYTE, 0, content.length);
        }
        if (context.device().isHost()) {
            return host;
        }
        try (host) {
            return host.to(context.device(), context.allocator());
        }
    }

    /** A zeroed 1-D tensor of {@code count} elements on the context's device. */
    public static Tensor zeros(RankContext context, DType dtype, long count) {
        return Tensor.allocate(context.allocator(), dtype, Shape.of(count), context.device());
    }

    /** The tensor's bytes, copied to the heap (through the host for device tensors). */
    public static byte[] bytes(Tensor tensor) {
        if (tensor.device().isHost()) {
            return tensor.segment().toArray(ValueLayout.JAVA_BYTE);
        }
        try (io.yatt.tensor.Allocator scratch = io.yatt.tensor.Allocator.root("bytes");
             Tensor host = tensor.to(io.yatt.tensor.Device.host(), scratch)) {
            return host.segment().toArray(ValueLayout.JAVA_BYTE);
        }
    }

    private static float readFloat(DType dtype, ByteBuffer in, int at) {
        return switch (dtype) {
            case F32 -> in.getFloat(at);
            case F16 -> Half.f16ToFloat(in.getShort(at));
            default -> Half.bf16ToFloat(in.getShort(at));
        };
    }

    private static ByteBuffer buffer(byte[] bytes) {
        return ByteBuffer.wrap(bytes).order(ByteOrder.nativeOrder());
    }
}
