package io.yatt.hybrid;

import io.yatt.collectives.Communicator;

/**
 * A backend without direct placement, for tests: a real communicator whose {@code allGatherv} is the interface's
 * default (pack into a staging tensor from the caller's scratch allocator, all-gather or send/recv, unpack), as on
 * shm, nccl and cuda-local; everything else, its counters included, is the real communicator's. Communicators split
 * from it stage the same way.
 */
final class StagingCommunicator extends ForwardingCommunicator {

    StagingCommunicator(Communicator inner) {
        super(inner, StagingCommunicator::new);
    }
}
