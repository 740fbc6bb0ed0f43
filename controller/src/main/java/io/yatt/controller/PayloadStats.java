package io.yatt.controller;

/**
 * Payload bytes (call arguments and results, the frames' variable parts) an endpoint's codec has handled since it
 * started: what the controller touches per step, which data by reference keeps flat in the batch size; and, for a
 * worker, the bytes of referenced rows it served to and fetched from workers of other processes over the reference
 * data plane (never through a controller; always 0 for a controller).
 *
 * @param encodedBytes           payload bytes encoded (sent)
 * @param decodedBytes           payload bytes decoded (received)
 * @param referenceServedBytes   referenced rows sent to consumers in other processes
 * @param referenceFetchedBytes  referenced rows fetched from owners in other processes
 */
public record PayloadStats(long encodedBytes, long decodedBytes, long referenceServedBytes,
                           long referenceFetchedBytes) {

    /** Codec bytes only (no reference traffic: a controller's stats). */
    public PayloadStats(long encodedBytes, long decodedBytes) {
        this(encodedBytes, decodedBytes, 0, 0);
    }

    /** Encoded plus decoded bytes (the control plane's payload; reference traffic is not included). */
    public long totalBytes() {
        return encodedBytes + decodedBytes;
    }
}
