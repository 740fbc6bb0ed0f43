package io.yatt.hybrid;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.yatt.tensor.Allocator;
import io.yatt.tensor.DType;
import io.yatt.tensor.Device;
import io.yatt.tensor.Shape;
import io.yatt.tensor.Tensor;
import java.lang.foreign.MemorySegment;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.zip.CRC32C;
import org.junit.jupiter.api.Test;

class SyncManifestTest {

    private static SyncManifest.Entry entry(String name, DType dtype, Shape shape, long byteOffset, int crc) {
        return new SyncManifest.Entry(name, dtype, shape, byteOffset, shape.numel() * dtype.byteSize(), crc);
    }

    /** a: 10 bytes, empty: 0, b: 24 bytes (larger than a bucket of 8), c: 2 bytes; stream of 36 bytes. */
    private static SyncManifest sample(long bucketByteSize) {
        return new SyncManifest(7, bucketByteSize, List.of(
                entry("a", DType.BF16, Shape.of(5), 0, 0x11),
                entry("empty", DType.F32, Shape.of(0, 4), 10, 0),
                entry("b", DType.I64, Shape.of(3), 10, 0x22),
                entry("c", DType.U8, Shape.of(1, 2), 34, 0x33)));
    }

    @Test
    void shouldCutTheStreamIntoBucketsWithTensorsSpanningBuckets() {
        SyncManifest m = sample(8);
        assertEquals(36, m.totalByteSize());
        assertEquals(5, m.bucketCount());
        List<WeightBucket> buckets = m.buckets();
        assertEquals(new WeightBucket(0, 0, 8, List.of(new WeightBucket.Slice(0, "a", 0, 0, 8))), buckets.get(0));
        assertEquals(new WeightBucket(1, 8, 8, List.of(new WeightBucket.Slice(0, "a", 8, 0, 2),
                new WeightBucket.Slice(2, "b", 0, 2, 6))), buckets.get(1));
        assertEquals(new WeightBucket(2, 16, 8, List.of(new WeightBucket.Slice(2, "b", 6, 0, 8))), buckets.get(2));
        assertEquals(new WeightBucket(3, 24, 8, List.of(new WeightBucket.Slice(2, "b", 14, 0, 8))), buckets.get(3));
        assertEquals(new WeightBucket(4, 32, 4, List.of(new WeightBucket.Slice(2, "b", 22, 0, 2),
                new WeightBucket.Slice(3, "c", 0, 2, 2))), buckets.get(4));
    }

    @Test
    void shouldPutEverythingInOneShortBucketWhenTheBucketIsLarge() {
        SyncManifest m = sample(WeightSync.DEFAULT_BUCKET_BYTE_SIZE);
        assertEquals(1, m.bucketCount());
        assertEquals(new WeightBucket(0, 0, 36, List.of(new WeightBucket.Slice(0, "a", 0, 0, 10),
                new WeightBucket.Slice(2, "b", 0, 10, 24), new WeightBucket.Slice(3, "c", 0, 34, 2))), m.bucket(0));
    }

    @Test
    void shouldHaveNoBucketsWhenEveryTensorIsEmpty() {
        SyncManifest m = new SyncManifest(1, 8, List.of(entry("e", DType.F32, Shape.of(0), 0, 0)));
        assertEquals(0, m.totalByteSize());
        assertEquals(0, m.bucketCount());
        assertEquals(List.of(), m.buckets());
        IndexOutOfBoundsException e = assertThrows(IndexOutOfBoundsException.class, () -> m.bucket(0));
        assertEquals("bucket out of range: index=0, bucketCount=0", e.getMessage());
    }

    @Test
    void shouldRoundTripTheWireForm() {
        SyncManifest m = sample(8);
        byte[] bytes = m.encode();
        assertEquals(32 + (2 + 1 + 1 + 4 + 1 + 8 + 20) + (2 + 5 + 1 + 3 + 1 + 16 + 20) + (2 + 1 + 1 + 3 + 1 + 8 + 20)
                + (2 + 1 + 1 + 2 + 1 + 16 + 20), bytes.length);
        assertEquals(m, SyncManifest.decode(bytes));
    }

    @Test
    void shouldRejectAFlippedBitInTheWireForm() {
        byte[] bytes = sample(8).encode();
        CRC32C good = new CRC32C();
        good.update(bytes, 0, bytes.length - 4);
        bytes[40] ^= 0x04;
        CRC32C bad = new CRC32C();
        bad.update(bytes, 0, bytes.length - 4);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> SyncManifest.decode(bytes));
        assertEquals("manifest checksum mismatch: expected=" + SyncManifest.hex((int) good.getValue()) + ", actual="
                + SyncManifest.hex((int) bad.getValue()) + ", byteSize=" + bytes.length, e.getMessage());
    }

    @Test
    void shouldRejectTruncatedWireForm() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> SyncManifest.decode(new byte[10]));
        assertEquals("manifest truncated: byteSize=10, min=32", e.getMessage());
        byte[] bytes = sample(8).encode();
        byte[] cut = Arrays.copyOf(bytes, bytes.length - 1);
        assertThrows(IllegalArgumentException.class, () -> SyncManifest.decode(cut));
    }

    @Test
    void shouldValidateEntriesAndOffsets() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> new SyncManifest.Entry("w", DType.F32, Shape.of(4), 0, 12, 0));
        assertEquals("invalid manifest entry: tensor=w, byteSize=12, expected=16 (shape=[4], dtype=F32)",
                e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> new SyncManifest(1, 8, List.of(
                entry("a", DType.F32, Shape.of(2), 0, 0), entry("b", DType.F32, Shape.of(2), 4, 0))));
        assertEquals("manifest entries not back to back: tensor=b, byteOffset=4, expected=8", e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> new SyncManifest(1, 8, List.of(
                entry("a", DType.F32, Shape.of(2), 0, 0), entry("a", DType.F32, Shape.of(2), 8, 0))));
        assertEquals("duplicate tensor in manifest: tensor=a, version=1", e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> new SyncManifest(-1, 8, List.of()));
        assertEquals("invalid weight version: version=-1, expected >= 0", e.getMessage());
    }

    @Test
    void shouldValidateTheBucketSize() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> new WeightSync.Config(0));
        assertEquals("invalid bucket size: bucketByteSize=0, expected 1..1073741824", e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> new WeightSync.Config(-64));
        assertEquals("invalid bucket size: bucketByteSize=-64, expected 1..1073741824", e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> new WeightSync.Config((1L << 30) + 1));
        assertEquals("invalid bucket size: bucketByteSize=1073741825, expected 1..1073741824", e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> new SyncManifest(1, 0, List.of()));
        assertEquals("invalid bucket size: bucketByteSize=0, expected 1..1073741824", e.getMessage());
        assertEquals(64L << 20, WeightSync.Config.defaults().bucketByteSize());
        assertEquals(1, new WeightSync.Config(1).bucketByteSize());
    }

    @Test
    void shouldComputeCrc32cOfEachTensorAndRefuseNonContiguousOnes() {
        try (Allocator root = Allocator.root("manifest-test");
             Tensor a = Tensor.allocate(root, DType.F32, Shape.of(3, 4), Device.host());
             Tensor empty = Tensor.allocate(root, DType.BF16, Shape.of(0), Device.host())) {
            a.fillRandom(5);
            Map<String, Tensor> weights = new LinkedHashMap<>();
            weights.put("a", a);
            weights.put("empty", empty);
            SyncManifest m = SyncManifest.of(3, 16, weights);
            CRC32C crc = new CRC32C();
            crc.update(a.segment().toArray(java.lang.foreign.ValueLayout.JAVA_BYTE));
            assertEquals(List.of(new SyncManifest.Entry("a", DType.F32, Shape.of(3, 4), 0, 48, (int) crc.getValue()),
                    new SyncManifest.Entry("empty", DType.BF16, Shape.of(0), 48, 0, 0)), m.entries());
            assertEquals((int) crc.getValue(), SyncManifest.crc32c(MemorySegment.ofArray(
                    a.segment().toArray(java.lang.foreign.ValueLayout.JAVA_BYTE))));
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> SyncManifest.of(3, 16, Map.of("col", a.narrow(1, 1, 2))));
            assertEquals("weight sync needs contiguous host tensors: tensor=col, device=host, contiguous=false",
                    e.getMessage());
        }
    }
}
