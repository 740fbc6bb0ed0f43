package io.yatt.bench.controller;

/**
 * One controller-step measurement for C controllers at one batch size on one path.
 *
 * @param controllers                 C
 * @param batchSamples                samples in the whole step (all controllers)
 * @param path                        {@link #REFERENCE} (the runtime's data by reference) or {@link #INLINE}
 * @param bytesPerStep                codec payload bytes of all controllers' planes (encoded + decoded)
 * @param bytesPerController          the largest of one controller's encoded + decoded payload bytes
 * @param allocatedBytesPerController heap allocated by one controller's JVM during the step (the largest)
 * @param peakLiveBytesPerController  one controller JVM's live heap at the step's high point above its live heap
 *                                    before its first step, both after a full GC (the largest)
 * @param stepMs                      wall time of the step (the slowest controller)
 */
record StepRow(int controllers, long batchSamples, String path, long bytesPerStep, long bytesPerController,
               long allocatedBytesPerController, long peakLiveBytesPerController, double stepMs) {

    static final String REFERENCE = "reference";
    static final String INLINE = "inline";
}
