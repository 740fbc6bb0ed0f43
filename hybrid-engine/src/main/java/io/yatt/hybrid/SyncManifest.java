package io.yatt.hybrid;

import io.yatt.tensor.DType;
import io.yatt.tensor.Shape;
import io.yatt.tensor.Tensor;
import java.lang.foreign.MemorySegment;
import java.nio.BufferUnderflowException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.zip.CRC32C;

/**
 * What one weight sync carries, sent before any bucket so receivers can validate it first: the version, the bucket
 * size, and per tensor its name, dtype, shape, byte offset in the sync's byte stream and the CRC32C of its bytes.
 * The byte stream is every tensor's bytes back to back in entry order, cut into buckets of
 * {@link #bucketByteSize()} bytes ({@link #bucket(long)}). Immutable and thread-safe.
 *
 * <p>Wire format (little-endian, version {@value #FORMAT_VERSION}): magic {@code "YWSM"}, format version (u16),
 * reserved (u16), version (i64), bucket size (i64), entry count (i32); per entry: name length (u16) and UTF-8 bytes,
 * dtype name length (u8) and its safetensors name, rank (u8) and dims (i64 each), byte offset (i64), byte size (i64),
 * CRC32C (i32); then the CRC32C (i32) of everything before it.
 *
 * @param version the sync's version, {@code >= 0}, increasing from sync to sync
 * @param bucketByteSize bytes per bucket, in {@code [1, WeightSync.MAX_BUCKET_BYTE_SIZE]}
 * @param entries the tensors, in stream order
 */
public record SyncManifest(long version, long bucketByteSize, List<Entry> entries) {

    /** The wire format version written by {@link #encode()}. */
    public static final int FORMAT_VERSION = 1;
    /** The first four bytes of an encoded manifest: {@code "YWSM"} read as a little-endian int. */
    public static final int MAGIC = 0x4d535759;
    /** The largest encoded manifest accepted, 64 MiB. */
    public static final int MAX_ENCODED_BYTE_SIZE = 64 << 20;

    private static final int CRC_CHUNK_BYTE_SIZE = 1 << 30;

    /**
     * One tensor of a sync.
     *
     * @param name the tensor's name (the rollout rank looks it up by this name)
     * @param dtype element type
     * @param shape shape
     * @param byteOffset offset of the tensor's first byte in the sync's byte stream
     * @param byteSize {@code shape.numel() * dtype.byteSize()}
     * @param crc32c CRC32C of the tensor's bytes ({@code 0} for an empty tensor)
     */
    public record Entry(String name, DType dtype, Shape shape, long byteOffset, long byteSize, int crc32c) {

        /**
         * @throws IllegalArgumentException for an empty name, a negative offset or a byte size that does not match
         *         dtype and shape
         */
        public Entry {
            Objects.requireNonNull(name, "name");
            Objects.requireNonNull(dtype, "dtype");
            Objects.requireNonNull(shape, "shape");
            if (name.isEmpty()) {
                throw new IllegalArgumentException("invalid manifest entry: empty name, byteOffset=" + byteOffset);
            }
            if (byteOffset < 0) {
                throw new IllegalArgumentException("invalid manifest entry: tensor=" + name + ", byteOffset="
                        + byteOffset + ", expected >= 0");
            }
            long expected;
            try {
                expected = Math.multiplyExact(shape.numel(), (long) dtype.byteSize());
            } catch (ArithmeticException e) {
                throw new IllegalArgumentException("invalid manifest entry: tensor=" + name + ", shape=" + shape
                        + ", dtype=" + dtype + ", byte size overflows a long");
            }
            if (byteSize != expected) {
                throw new IllegalArgumentException("invalid manifest entry: tensor=" + name + ", byteSize=" + byteSize
                        + ", expected=" + expected + " (shape=" + shape + ", dtype=" + dtype + ")");
            }
        }

        /** The offset one past the tensor's last byte in the stream. */
        public long endByteOffset() {
            return byteOffset + byteSize;
        }
    }

    /**
     * @throws IllegalArgumentException for a negative version, an invalid bucket size, a repeated name, or entries
     *         that are not back to back from offset 0
     */
    public SyncManifest {
        entries = List.copyOf(entries);
        if (version < 0) {
            throw new IllegalArgumentException("invalid weight version: version=" + version + ", expected >= 0");
        }
        WeightSync.checkBucketByteSize(bucketByteSize);
        Set<String> names = new HashSet<>();
        long offset = 0;
        for (Entry entry : entries) {
            if (!names.add(entry.name())) {
                throw new IllegalArgumentException("duplicate tensor in manifest: tensor=" + entry.name()
                        + ", version=" + version);
            }
            if (entry.byteOffset() != offset) {
                throw new IllegalArgumentException("manifest entries not back to back: tensor=" + entry.name()
                        + ", byteOffset=" + entry.byteOffset() + ", expected=" + offset);
            }
            try {
                offset = Math.addExact(offset, entry.byteSize());
            } catch (ArithmeticException e) {
                throw new IllegalArgumentException("manifest byte size overflows a long: tensor=" + entry.name());
            }
        }
    }

    /**
     * The manifest of {@code weights} in map order, with each tensor's CRC32C computed now (one pass over the bytes).
     *
     * @throws IllegalArgumentException if a tensor is not a contiguous host tensor, or for an invalid version or
     *         bucket size
     */
    public static SyncManifest of(long version, long bucketByteSize, Map<String, Tensor> weights) {
        Objects.requireNonNull(weights, "weights");
        List<Entry> entries = new ArrayList<>(weights.size());
        long offset = 0;
        for (Map.Entry<String, Tensor> e : weights.entrySet()) {
            Tensor tensor = Objects.requireNonNull(e.getValue(), e.getKey());
            MemorySegment bytes = hostBytes(e.getKey(), tensor);
            entries.add(new Entry(e.getKey(), tensor.dtype(), tensor.shape(), offset, tensor.byteSize(),
                    crc32c(bytes)));
            offset += tensor.byteSize();
        }
        return new SyncManifest(version, bucketByteSize, entries);
    }

    /** The bytes of all tensors: the length of the stream. */
    public long totalByteSize() {
        return entries.isEmpty() ? 0 : entries.getLast().endByteOffset();
    }

    /** The number of buckets, {@code ceil(totalByteSize / bucketByteSize)}; 0 when every tensor is empty. */
    public long bucketCount() {
        long total = totalByteSize();
        return total / bucketByteSize + (total % bucketByteSize == 0 ? 0 : 1);
    }

    /**
     * Bucket {@code index}: its place in the stream and the tensor pieces in it.
     *
     * @throws IndexOutOfBoundsException if the index is outside {@code [0, bucketCount())}
     */
    public WeightBucket bucket(long index) {
        long count = bucketCount();
        if (index < 0 || index >= count) {
            throw new IndexOutOfBoundsException("bucket out of range: index=" + index + ", bucketCount=" + count);
        }
        long start = index * bucketByteSize;
        long end = Math.min(start + bucketByteSize, totalByteSize());
        List<WeightBucket.Slice> slices = new ArrayList<>();
        for (int i = firstEntryEndingAfter(start); i < entries.size(); i++) {
            Entry entry = entries.get(i);
            if (entry.byteOffset() >= end) {
                break;
            }
            if (entry.byteSize() == 0) {
                continue;
            }
            long from = Math.max(start, entry.byteOffset());
            long to = Math.min(end, entry.endByteOffset());
            slices.add(new WeightBucket.Slice(i, entry.name(), from - entry.byteOffset(), from - start, to - from));
        }
        return new WeightBucket(index, start, end - start, slices);
    }

    /**
     * Every bucket, in order.
     *
     * @throws IllegalStateException if there are more than {@code Integer.MAX_VALUE} buckets
     */
    public List<WeightBucket> buckets() {
        long count = bucketCount();
        if (count > Integer.MAX_VALUE) {
            throw new IllegalStateException("too many buckets to list: bucketCount=" + count);
        }
        List<WeightBucket> result = new ArrayList<>((int) count);
        for (long i = 0; i < count; i++) {
            result.add(bucket(i));
        }
        return result;
    }

    /**
     * The wire form of this manifest, ending with its own CRC32C.
     *
     * @throws IllegalStateException if the encoding exceeds {@link #MAX_ENCODED_BYTE_SIZE}, or a name is longer than
     *         65535 UTF-8 bytes or a shape has more than 255 dimensions
     */
    public byte[] encode() {
        long size = 4 + 2 + 2 + 8 + 8 + 4 + 4;
        List<byte[]> names = new ArrayList<>(entries.size());
        for (Entry entry : entries) {
            byte[] name = entry.name().getBytes(StandardCharsets.UTF_8);
            if (name.length > 0xffff) {
                throw new IllegalStateException("tensor name too long for the manifest: tensor=" + entry.name()
                        + ", byteSize=" + name.length + ", max=65535");
            }
            if (entry.shape().rank() > 0xff) {
                throw new IllegalStateException("shape has too many dimensions for the manifest: tensor="
                        + entry.name() + ", rank=" + entry.shape().rank() + ", max=255");
            }
            names.add(name);
            size += 2 + name.length + 1 + entry.dtype().safetensorsName().length() + 1
                    + 8L * entry.shape().rank() + 8 + 8 + 4;
        }
        if (size > MAX_ENCODED_BYTE_SIZE) {
            throw new IllegalStateException("manifest too large: byteSize=" + size + ", max=" + MAX_ENCODED_BYTE_SIZE
                    + ", tensors=" + entries.size());
        }
        ByteBuffer out = ByteBuffer.allocate((int) size).order(ByteOrder.LITTLE_ENDIAN);
        out.putInt(MAGIC).putShort((short) FORMAT_VERSION).putShort((short) 0);
        out.putLong(version).putLong(bucketByteSize).putInt(entries.size());
        for (int i = 0; i < entries.size(); i++) {
            Entry entry = entries.get(i);
            byte[] name = names.get(i);
            out.putShort((short) name.length).put(name);
            byte[] dtype = entry.dtype().safetensorsName().getBytes(StandardCharsets.US_ASCII);
            out.put((byte) dtype.length).put(dtype);
            long[] dims = entry.shape().dims();
            out.put((byte) dims.length);
            for (long dim : dims) {
                out.putLong(dim);
            }
            out.putLong(entry.byteOffset()).putLong(entry.byteSize()).putInt(entry.crc32c());
        }
        CRC32C crc = new CRC32C();
        crc.update(out.array(), 0, out.position());
        out.putInt((int) crc.getValue());
        return out.array();
    }

    /**
     * Reads a manifest written by {@link #encode()}, checking its CRC32C first.
     *
     * @throws IllegalArgumentException naming what is wrong: a checksum mismatch, a bad magic or format version,
     *         truncated or trailing bytes, or an invalid entry
     */
    public static SyncManifest decode(byte[] bytes) {
        Objects.requireNonNull(bytes, "bytes");
        if (bytes.length < 4 + 2 + 2 + 8 + 8 + 4 + 4) {
            throw new IllegalArgumentException("manifest truncated: byteSize=" + bytes.length + ", min=32");
        }
        ByteBuffer in = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
        CRC32C crc = new CRC32C();
        crc.update(bytes, 0, bytes.length - 4);
        int expectedCrc = in.getInt(bytes.length - 4);
        if ((int) crc.getValue() != expectedCrc) {
            throw new IllegalArgumentException("manifest checksum mismatch: expected=" + hex(expectedCrc)
                    + ", actual=" + hex((int) crc.getValue()) + ", byteSize=" + bytes.length);
        }
        int magic = in.getInt();
        if (magic != MAGIC) {
            throw new IllegalArgumentException("not a weight manifest: magic=" + hex(magic) + ", expected="
                    + hex(MAGIC));
        }
        int format = Short.toUnsignedInt(in.getShort());
        if (format != FORMAT_VERSION) {
            throw new IllegalArgumentException("unsupported manifest format: formatVersion=" + format
                    + ", expected=" + FORMAT_VERSION);
        }
        in.getShort();
        try {
            long version = in.getLong();
            long bucketByteSize = in.getLong();
            int count = in.getInt();
            if (count < 0 || count > bytes.length) {
                throw new IllegalArgumentException("invalid manifest entry count: count=" + count);
            }
            List<Entry> entries = new ArrayList<>(count);
            for (int i = 0; i < count; i++) {
                byte[] name = new byte[Short.toUnsignedInt(in.getShort())];
                in.get(name);
                byte[] dtype = new byte[Byte.toUnsignedInt(in.get())];
                in.get(dtype);
                long[] dims = new long[Byte.toUnsignedInt(in.get())];
                for (int d = 0; d < dims.length; d++) {
                    dims[d] = in.getLong();
                }
                long byteOffset = in.getLong();
                long byteSize = in.getLong();
                int entryCrc = in.getInt();
                entries.add(new Entry(new String(name, StandardCharsets.UTF_8),
                        DType.fromSafetensors(new String(dtype, StandardCharsets.US_ASCII)), Shape.of(dims),
                        byteOffset, byteSize, entryCrc));
            }
            if (in.remaining() != 4) {
                throw new IllegalArgumentException("manifest has trailing bytes: byteSize=" + bytes.length
                        + ", trailing=" + (in.remaining() - 4));
            }
            return new SyncManifest(version, bucketByteSize, entries);
        } catch (BufferUnderflowException e) {
            throw new IllegalArgumentException("manifest truncated: byteSize=" + bytes.length, e);
        }
    }

    /** The CRC32C of a segment's bytes ({@code 0} for an empty segment); heap or native, any length. */
    public static int crc32c(MemorySegment bytes) {
        CRC32C crc = new CRC32C();
        update(crc, bytes);
        return (int) crc.getValue();
    }

    /** {@code 0x} and eight lowercase hex digits, as checksums appear in messages. */
    public static String hex(int value) {
        return String.format("0x%08x", value);
    }

    static void update(CRC32C crc, MemorySegment bytes) {
        long size = bytes.byteSize();
        for (long off = 0; off < size; off += CRC_CHUNK_BYTE_SIZE) {
            crc.update(bytes.asSlice(off, Math.min(CRC_CHUNK_BYTE_SIZE, size - off)).asByteBuffer());
        }
    }

    static MemorySegment hostBytes(String name, Tensor tensor) {
        if (!tensor.device().isHost() || !tensor.isContiguous()) {
            throw new IllegalArgumentException("weight sync needs contiguous host tensors: tensor=" + name
                    + ", device=" + tensor.device() + ", contiguous=" + tensor.isContiguous());
        }
        return tensor.segment();
    }

    private int firstEntryEndingAfter(long offset) {
        int lo = 0;
        int hi = entries.size();
        while (lo < hi) {
            int mid = (lo + hi) >>> 1;
            if (entries.get(mid).endByteOffset() <= offset) {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        return lo;
    }
}
