/** Collectives: the Communicator API, DeviceMesh and the in-process, shm, nccl and cuda-local backends. */
module io.yatt.collectives {
    requires transitive io.yatt.tensor;

    exports io.yatt.collectives;
}
