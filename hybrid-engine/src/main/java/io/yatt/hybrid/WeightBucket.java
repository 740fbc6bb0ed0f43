package io.yatt.hybrid;

import java.util.List;
import java.util.Objects;

/**
 * One bucket of a weight sync: bytes {@code [byteOffset, byteOffset + byteSize)} of the sync's byte stream (every
 * tensor's bytes back to back, in manifest order), and the pieces of tensors that lie in it. A tensor larger than a
 * bucket spans several buckets; an empty tensor lies in none. Made by {@link SyncManifest#bucket(long)}. Immutable
 * and thread-safe.
 *
 * @param index bucket index, from 0
 * @param byteOffset offset of the bucket's first byte in the stream
 * @param byteSize bytes in the bucket: the manifest's bucket size, less for the last bucket
 * @param slices the tensor pieces in the bucket, in stream order
 */
public record WeightBucket(long index, long byteOffset, long byteSize, List<Slice> slices) {

    /**
     * A piece of one tensor inside a bucket.
     *
     * @param entry index of the tensor in {@link SyncManifest#entries()}
     * @param name the tensor's name
     * @param tensorByteOffset offset of the piece inside the tensor's bytes
     * @param bucketByteOffset offset of the piece inside the bucket
     * @param byteSize bytes in the piece
     */
    public record Slice(int entry, String name, long tensorByteOffset, long bucketByteOffset, long byteSize) {

        /** @throws NullPointerException if the name is null */
        public Slice {
            Objects.requireNonNull(name, "name");
        }
    }

    /** @throws NullPointerException if slices is null */
    public WeightBucket {
        slices = List.copyOf(slices);
    }
}
