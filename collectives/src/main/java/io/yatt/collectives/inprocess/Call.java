package io.yatt.collectives.inprocess;

import io.yatt.collectives.CollectiveKind;
import io.yatt.collectives.ReduceOp;
import io.yatt.collectives.internal.CallSignature;
import io.yatt.tensor.DType;
import io.yatt.tensor.Tensor;

import java.lang.foreign.MemorySegment;
import java.util.List;

/**
 * One posted call, a flyweight re-pointed for every operation. Written by its rank before a barrier (or a p2p post)
 * and read by peers after it; not thread-safe otherwise.
 */
final class Call {
    CollectiveKind kind;
    MemorySegment send;
    MemorySegment recv;
    long count;
    DType dtype;
    ReduceOp op;
    /** Root for broadcast and reduce, peer for send and recv, -1 otherwise. */
    int root = -1;
    boolean inPlace;
    int color;
    int key;
    /** Split: the new shared state, published by the group's leader. */
    Object payload;
    /** Split: this rank's new communicator (or null). Send: the post number to await. */
    Object result;
    long postNumber;
    /** All-gather-v: this rank's send views and its receive view lists (null for other kinds). */
    List<Tensor> sendViews;
    List<List<Tensor>> recvViews;

    Call set(CollectiveKind kind, MemorySegment send, MemorySegment recv, long count, DType dtype, ReduceOp op, int root,
             boolean inPlace) {
        this.kind = kind;
        this.send = send;
        this.recv = recv;
        this.count = count;
        this.dtype = dtype;
        this.op = op;
        this.root = root;
        this.inPlace = inPlace;
        this.payload = null;
        this.result = null;
        this.sendViews = null;
        this.recvViews = null;
        return this;
    }

    Call copyFrom(Call other) {
        set(other.kind, other.send, other.recv, other.count, other.dtype, other.op, other.root, other.inPlace);
        this.color = other.color;
        this.key = other.key;
        this.sendViews = other.sendViews;
        this.recvViews = other.recvViews;
        return this;
    }

    boolean sameSignature(Call other) {
        return kind == other.kind && count == other.count && dtype == other.dtype && op == other.op
                && root == other.root;
    }

    String describe() {
        return CallSignature.describe(kind, count, dtype, op, root);
    }

    void release() {
        send = null;
        recv = null;
        payload = null;
        result = null;
        sendViews = null;
        recvViews = null;
    }
}
