package io.yatt.collectives;

import io.yatt.tensor.Device;

import java.util.List;

/**
 * The SPI a backend gives {@link CommunicatorConformanceTest}: {@code size} ranks, each with a communicator, that run
 * the same task concurrently. A harness is reused across tests; it must never hang (bound every run).
 */
public interface CommunicatorHarness extends AutoCloseable {

    /** The number of ranks. */
    int size();

    /** Where the ranks' tensors live. */
    Device device();

    /**
     * Runs {@code task} on every rank concurrently and returns each rank's outcome in rank order, failures included.
     * Must return within a bounded time even if a rank hangs (its outcome then carries the failure).
     */
    <T> List<RankOutcome<T>> run(RankTask<T> task);

    /** Releases the ranks. */
    @Override
    void close();
}
