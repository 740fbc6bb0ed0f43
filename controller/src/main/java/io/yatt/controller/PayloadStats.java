package io.yatt.controller;

/**
 * Payload bytes (call arguments and results, the frames' variable parts) an endpoint's codec has handled since it
 * started: what the controller touches per step, which data by reference keeps flat in the batch size; and, for a
 * worker, the bytes of referenced rows it pulled from workers of other processes, by path: served to and fetched from
 * them over the reference data plane (Aeron), or copied in place from the shared memory of owners in its shm world
 * (never through a controller; always 0 for a controller).
 *
 * @param encodedBytes           payload bytes encoded (sent)
 * @param decodedBytes           payload bytes decoded (received)
 * @param referenceServedBytes   referenced rows sent to consumers in other processes over Aeron
 * @param referenceFetchedBytes  referenced rows fetched from owners in other processes over Aeron
 * @param referenceSharedBytes   referenced rows copied in place from owners' shared memory (same host, same shm world)
 */
public record PayloadStats(long encodedBytes, long decodedBytes, long referenceServedBytes,
                           long referenceFetchedBytes, long referenceSharedBytes) {

    /** Codec bytes only (no reference traffic: a controller's stats). */
    public PayloadStats(long encodedBytes, long decodedBytes) {
        this(encodedBytes, decodedBytes, 0, 0, 0);
    }

    /** Codec bytes and Aeron reference traffic, nothing pulled from shared memory. */
    public PayloadStats(long encodedBytes, long decodedBytes, long referenceServedBytes, long referenceFetchedBytes) {
        this(encodedBytes, decodedBytes, referenceServedBytes, referenceFetchedBytes, 0);
    }

    /** Encoded plus decoded bytes (the control plane's payload; reference traffic is not included). */
    public long totalBytes() {
        return encodedBytes + decodedBytes;
    }
}
