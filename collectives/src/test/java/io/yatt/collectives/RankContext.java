package io.yatt.collectives;

import io.yatt.tensor.Allocator;
import io.yatt.tensor.Device;

/** What a {@link RankTask} gets on its rank: the communicator, an allocator and the device its tensors live on. */
public interface RankContext {

    /** This rank's communicator. */
    Communicator communicator();

    /** An allocator for this rank's tensors; tasks close what they allocate. */
    Allocator allocator();

    /** The device the backend moves tensors on (the host, or a CUDA device). */
    Device device();

    /** This rank. */
    default int rank() {
        return communicator().rank();
    }

    /** The number of ranks. */
    default int size() {
        return communicator().size();
    }
}
