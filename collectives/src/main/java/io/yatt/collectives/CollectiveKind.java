package io.yatt.collectives;

/** The calls a communicator makes, with the name used in messages ({@code allGather}, ...). Thread-safe. */
public enum CollectiveKind {
    /** {@code allGather(send, recv)}. */
    ALL_GATHER("allGather", true),
    /** {@code reduceScatter(send, recv, op)}. */
    REDUCE_SCATTER("reduceScatter", true),
    /** {@code allReduce(send, recv, op)}. */
    ALL_REDUCE("allReduce", true),
    /** {@code broadcast(send, recv, root)}. */
    BROADCAST("broadcast", true),
    /** {@code reduce(send, recv, op, root)}. */
    REDUCE("reduce", true),
    /** {@code allToAll(send, recv)}. */
    ALL_TO_ALL("allToAll", true),
    /** {@code allGatherv(send views, recv view lists)}. */
    ALL_GATHER_V("allGatherv", true),
    /** {@code barrier()}. */
    BARRIER("barrier", true),
    /** {@code split(color, key)}. */
    SPLIT("split", true),
    /** {@code send(send, peer)}. */
    SEND("send", false),
    /** {@code recv(recv, peer)}. */
    RECV("recv", false);

    private final String opName;
    private final boolean collective;

    CollectiveKind(String opName, boolean collective) {
        this.opName = opName;
        this.collective = collective;
    }

    /** The method name, as messages print it. */
    public String opName() {
        return opName;
    }

    /** Whether every rank takes part (false for point-to-point send and recv). */
    public boolean isCollective() {
        return collective;
    }
}
