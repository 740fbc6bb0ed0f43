package io.yatt.tensor;

import java.lang.foreign.Arena;
import java.nio.file.Path;
import java.util.Map;

/**
 * An open safetensors file: the whole file is memory-mapped read-only and every tensor is a zero-copy, read-only
 * view into the mapping. Closing the file unmaps it; its tensors then throw IllegalStateException on use.
 * Safe to read from several threads; close once, after the last use.
 */
public final class SafeTensorsFile implements AutoCloseable {
    private final Path path;
    private final Arena arena;
    private final Storage storage;
    private final Map<String, Tensor> tensors;
    private final Map<String, String> metadata;
    private boolean closed;

    SafeTensorsFile(Path path, Arena arena, Storage storage, Map<String, Tensor> tensors, Map<String, String> metadata) {
        this.path = path;
        this.arena = arena;
        this.storage = storage;
        this.tensors = tensors;
        this.metadata = metadata;
    }

    /** The file this was opened from. */
    public Path path() {
        return path;
    }

    /** Every tensor by name, in file (data offset) order; unmodifiable. */
    public Map<String, Tensor> tensors() {
        return tensors;
    }

    /**
     * The tensor called {@code name}.
     *
     * @throws IllegalArgumentException if the file has no such tensor
     */
    public Tensor get(String name) {
        Tensor tensor = tensors.get(name);
        if (tensor == null) {
            throw new IllegalArgumentException("safetensors tensor not found: file=" + path + ", tensor=" + name);
        }
        return tensor;
    }

    /** The {@code __metadata__} entries (empty if absent); unmodifiable. */
    public Map<String, String> metadata() {
        return metadata;
    }

    /**
     * Unmaps the file.
     *
     * @throws IllegalStateException if already closed
     */
    @Override
    public synchronized void close() {
        if (closed) {
            throw new IllegalStateException("safetensors file already closed: file=" + path);
        }
        closed = true;
        storage.markClosed();
        arena.close();
    }
}
