package io.yatt.trainer.run;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/**
 * A published, verified checkpoint: every file its manifest lists is present with the recorded size and CRC32C.
 * Immutable and thread-safe.
 *
 * @param path the {@code global_step_<k>} folder
 * @param step the global step it was written after
 * @param meta what the writer recorded to check compatibility (e.g. model sizes, world size), unmodifiable
 * @param files the payload files, relative names with '/', sorted, unmodifiable
 */
public record Checkpoint(Path path, long step, Map<String, String> meta, List<String> files) {

    /** Copies meta and files. */
    public Checkpoint {
        meta = Map.copyOf(meta);
        files = List.copyOf(files);
    }

    /** The path of one payload file. */
    public Path file(String name) {
        return path.resolve(name);
    }

    /**
     * Refuses a checkpoint written by an incompatible run: every entry of {@code expected} must be in the meta with
     * the same value.
     *
     * @throws CheckpointException naming the first differing key, both values and the folder
     */
    public void requireMeta(Map<String, String> expected) {
        for (String key : expected.keySet().stream().sorted().toList()) {
            String found = meta.get(key);
            if (!expected.get(key).equals(found)) {
                throw new CheckpointException("checkpoint does not match this run: path=" + path + ", key=" + key
                        + ", checkpoint=" + (found == null ? "<absent>" : found) + ", run=" + expected.get(key));
            }
        }
    }
}
