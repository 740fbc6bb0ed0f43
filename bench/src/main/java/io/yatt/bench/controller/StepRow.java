package io.yatt.bench.controller;

/**
 * One controller-step measurement for C controllers at one batch size on one path.
 *
 * @param controllers                 C
 * @param batchSamples                samples in the whole step (all controllers)
 * @param path                        {@link #REFERENCE}, {@link #INLINE} or {@link #BATCH}
 * @param bytesPerStep                payload bytes through {@code group.call} of all controllers (sent + received)
 * @param bytesPerController          the largest of one controller's sent + received payload bytes
 * @param allocatedBytesPerController heap allocated by the controller's calling thread (the largest) plus its share
 *                                    of the control-plane agent threads' allocation
 * @param peakLiveBytesPerController  live heap above the step's start at its high point, after a full GC, divided by C
 * @param stepMs                      wall time of the step
 */
record StepRow(int controllers, long batchSamples, String path, long bytesPerStep, long bytesPerController,
               long allocatedBytesPerController, long peakLiveBytesPerController, double stepMs) {

    static final String REFERENCE = "reference";
    static final String INLINE = "inline";
    /** The runtime's own data by reference: DataBatch results whose rows travel as ReferenceColumns. */
    static final String BATCH = "batch";
}
