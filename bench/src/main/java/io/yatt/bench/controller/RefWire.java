package io.yatt.bench.controller;

import io.yatt.controller.PayloadType;
import io.yatt.controller.TensorRef;
import io.yatt.tensor.DType;
import io.yatt.tensor.Shape;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * {@link TensorRef} as a call argument or result: a {@link PayloadType} whose wire form is one little-endian
 * {@code byte[]} (owner rank i32, region id i64, byte offset i64, dtype ordinal u8, shape rank u8, dims i64 each), so
 * the benchmark can count exactly the bytes a reference costs the controller.
 */
final class RefWire {

    /** Payload type id the benchmark registers on controllers and workers. */
    static final int TYPE_ID = 64;
    /** Bytes before the dims. */
    static final int HEADER_BYTES = 4 + 8 + 8 + 1 + 1;

    /** The registration for {@link ControlBenchCommand}'s controllers and workers. */
    static final PayloadType<TensorRef> TYPE = new PayloadType<>(TYPE_ID, TensorRef.class, RefWire::encode,
            RefWire::decode);

    private RefWire() {
    }

    /** Bytes of {@code ref} on the wire: {@link #HEADER_BYTES} plus 8 per dimension. */
    static int wireBytes(TensorRef ref) {
        return HEADER_BYTES + 8 * ref.shape().rank();
    }

    static byte[] encode(TensorRef ref) {
        long[] dims = ref.shape().dims();
        ByteBuffer b = ByteBuffer.allocate(HEADER_BYTES + 8 * dims.length).order(ByteOrder.LITTLE_ENDIAN);
        b.putInt(ref.ownerRank()).putLong(ref.regionId()).putLong(ref.byteOffset());
        b.put((byte) ref.dtype().ordinal()).put((byte) dims.length);
        for (long d : dims) {
            b.putLong(d);
        }
        return b.array();
    }

    /**
     * The reference {@link #encode} wrote.
     *
     * @throws IllegalArgumentException if the value is not a byte array of the length its header announces, or names
     *         an unknown dtype
     */
    static TensorRef decode(Object wire) {
        if (!(wire instanceof byte[] bytes)) {
            throw new IllegalArgumentException("tensor reference wire form must be byte[]: got="
                    + (wire == null ? "null" : wire.getClass().getSimpleName()));
        }
        if (bytes.length < HEADER_BYTES) {
            throw new IllegalArgumentException("tensor reference too short: bytes=" + bytes.length + ", min="
                    + HEADER_BYTES);
        }
        ByteBuffer b = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
        int owner = b.getInt();
        long region = b.getLong();
        long offset = b.getLong();
        int dtype = b.get() & 0xFF;
        int rank = b.get() & 0xFF;
        if (bytes.length != HEADER_BYTES + 8 * rank) {
            throw new IllegalArgumentException("tensor reference length does not match its rank: bytes="
                    + bytes.length + ", rank=" + rank + ", expected=" + (HEADER_BYTES + 8 * rank));
        }
        DType[] types = DType.values();
        if (dtype >= types.length) {
            throw new IllegalArgumentException("unknown dtype ordinal in tensor reference: ordinal=" + dtype
                    + ", expected=0.." + (types.length - 1));
        }
        long[] dims = new long[rank];
        for (int i = 0; i < rank; i++) {
            dims[i] = b.getLong();
        }
        return new TensorRef(owner, region, offset, types[dtype], Shape.of(dims));
    }
}
