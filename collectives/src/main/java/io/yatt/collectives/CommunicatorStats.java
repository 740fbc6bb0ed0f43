package io.yatt.collectives;

import java.util.EnumMap;
import java.util.Map;
import java.util.Objects;

/**
 * A snapshot of what one rank's communicator moved, counted by the backend at the place where the bytes move (the
 * copy, the reduction read, the NCCL or CUDA call): bytes of peers' data this rank received, bytes of this rank's
 * data that peers received, the part of each in device memory, and the calls made per kind. Local copies of a rank's
 * own data (its own chunk of an out-of-place all-gather, say) are not counted. Immutable.
 *
 * @param bytesReceived bytes of other ranks' data written into this rank's results (reductions: each peer operand
 *        byte read into this rank's part of the result), host and device
 * @param bytesSent bytes of this rank's data that reached other ranks, counted the same way
 * @param deviceBytesReceived the part of {@code bytesReceived} in device memory (nccl, cuda-local)
 * @param deviceBytesSent the part of {@code bytesSent} in device memory
 * @param calls calls made per kind (kinds never called are absent)
 */
public record CommunicatorStats(long bytesReceived, long bytesSent, long deviceBytesReceived, long deviceBytesSent,
                                Map<CollectiveKind, Long> calls) {

    /** Nothing moved, no calls. */
    public static final CommunicatorStats EMPTY = new CommunicatorStats(0, 0, 0, 0, Map.of());

    /**
     * Validates the counts and copies the map.
     *
     * @throws IllegalArgumentException for a negative count, or device bytes above the total
     */
    public CommunicatorStats {
        Objects.requireNonNull(calls, "calls");
        if (bytesReceived < 0 || bytesSent < 0 || deviceBytesReceived < 0 || deviceBytesSent < 0) {
            throw new IllegalArgumentException("negative byte count: bytesReceived=" + bytesReceived + ", bytesSent="
                    + bytesSent + ", deviceBytesReceived=" + deviceBytesReceived + ", deviceBytesSent="
                    + deviceBytesSent + ", expected >= 0");
        }
        if (deviceBytesReceived > bytesReceived || deviceBytesSent > bytesSent) {
            throw new IllegalArgumentException("device bytes above the total: bytesReceived=" + bytesReceived
                    + ", deviceBytesReceived=" + deviceBytesReceived + ", bytesSent=" + bytesSent
                    + ", deviceBytesSent=" + deviceBytesSent);
        }
        EnumMap<CollectiveKind, Long> copy = new EnumMap<>(CollectiveKind.class);
        for (Map.Entry<CollectiveKind, Long> e : calls.entrySet()) {
            long n = Objects.requireNonNull(e.getValue(), "calls value");
            if (n < 0) {
                throw new IllegalArgumentException("negative call count: kind=" + e.getKey() + ", calls=" + n
                        + ", expected >= 0");
            }
            if (n > 0) {
                copy.put(e.getKey(), n);
            }
        }
        calls = Map.copyOf(copy);
    }

    /** The calls of one kind (0 if none). */
    public long calls(CollectiveKind kind) {
        return calls.getOrDefault(Objects.requireNonNull(kind, "kind"), 0L);
    }

    /**
     * What happened between {@code earlier} and this snapshot of the same communicator.
     *
     * @throws IllegalArgumentException if {@code earlier} counts more than this snapshot (a reset in between)
     */
    public CommunicatorStats minus(CommunicatorStats earlier) {
        Objects.requireNonNull(earlier, "earlier");
        EnumMap<CollectiveKind, Long> diff = new EnumMap<>(CollectiveKind.class);
        for (CollectiveKind kind : CollectiveKind.values()) {
            long d = calls(kind) - earlier.calls(kind);
            if (d < 0) {
                throw new IllegalArgumentException("earlier snapshot counts more calls: kind=" + kind + ", calls="
                        + calls(kind) + ", earlier=" + earlier.calls(kind));
            }
            diff.put(kind, d);
        }
        if (earlier.bytesReceived > bytesReceived || earlier.bytesSent > bytesSent
                || earlier.deviceBytesReceived > deviceBytesReceived || earlier.deviceBytesSent > deviceBytesSent) {
            throw new IllegalArgumentException("earlier snapshot counts more bytes: bytesReceived=" + bytesReceived
                    + ", earlier=" + earlier.bytesReceived + ", bytesSent=" + bytesSent + ", earlier="
                    + earlier.bytesSent);
        }
        return new CommunicatorStats(bytesReceived - earlier.bytesReceived, bytesSent - earlier.bytesSent,
                deviceBytesReceived - earlier.deviceBytesReceived, deviceBytesSent - earlier.deviceBytesSent, diff);
    }
}
