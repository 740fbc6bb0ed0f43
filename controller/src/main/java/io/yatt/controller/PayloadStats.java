package io.yatt.controller;

/**
 * Payload bytes (call arguments and results, the frames' variable parts) an endpoint's codec has handled since it
 * started: what the controller touches per step, which data by reference keeps flat in the batch size.
 *
 * @param encodedBytes payload bytes encoded (sent)
 * @param decodedBytes payload bytes decoded (received)
 */
public record PayloadStats(long encodedBytes, long decodedBytes) {

    /** Encoded plus decoded bytes. */
    public long totalBytes() {
        return encodedBytes + decodedBytes;
    }
}
