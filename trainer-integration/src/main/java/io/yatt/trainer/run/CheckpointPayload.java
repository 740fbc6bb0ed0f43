package io.yatt.trainer.run;

import java.io.IOException;
import java.nio.file.Path;

/**
 * What a checkpoint holds, written by its owner (weights, optimiser state, RNG and sampler state) into a fresh
 * temporary folder; the {@link CheckpointStore} then checksums, fsyncs and publishes the folder. Throwing leaves no
 * trace: the temporary folder is removed and the previous checkpoint stays the latest.
 */
@FunctionalInterface
public interface CheckpointPayload {

    /**
     * Writes the checkpoint's files under {@code folder} (sub-folders allowed; {@value CheckpointStore#MANIFEST} is
     * reserved).
     *
     * @throws IOException if a file cannot be written
     */
    void writeTo(Path folder) throws IOException;
}
