/** Collectives: the Communicator API, DeviceMesh and the in-process, shm, nccl and cuda-local backends. */
module io.yatt.collectives {
    requires transitive io.yatt.tensor;

    exports io.yatt.collectives;
    // the controller publishes its endpoint through the same rendezvous store (yatt worker)
    exports io.yatt.collectives.rendezvous to io.yatt.controller;
    // worker JVMs are waited for and stopped as the shm launcher's rank JVMs are (ProcessGroup)
    exports io.yatt.collectives.internal to io.yatt.controller;
}
