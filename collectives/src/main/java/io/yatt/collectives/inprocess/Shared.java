package io.yatt.collectives.inprocess;

import io.yatt.collectives.Communicator;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.LockSupport;

/**
 * State shared by the ranks of one in-process communicator: posted calls, barrier phase counters, point-to-point
 * channels, parked threads and the abort cause. Counters are padded to their own cache lines and accessed through
 * VarHandles; everything else is published by a volatile counter write and read after the matching volatile read.
 */
final class Shared {
    /** Longs per padded counter: 128 bytes, two cache lines (adjacent-line prefetch). */
    static final int PAD = 16;
    /** Outstanding sends per ordered pair of ranks. */
    static final int RING_CAPACITY = 64;
    static final VarHandle LONGS = MethodHandles.arrayElementVarHandle(long[].class);
    static final VarHandle THREADS = MethodHandles.arrayElementVarHandle(Thread[].class);

    final int size;
    final Communicator.Context context;
    final long timeoutNs;
    /** slots[rank]: the collective calls rank posted for the current operation. */
    final Call[][] slots;
    final int[] slotCounts;
    /** arrived[rank * PAD]: the last barrier phase rank reached. */
    final long[] arrived;
    final Thread[] waiters;
    /** posted[(s * size + d) * PAD]: sends posted from s to d; consumed likewise, received by d. */
    final long[] posted;
    final long[] consumed;
    /** claims[PAD]: tickets handed out so far for large operations' pieces (see InProcessCommunicator). */
    final long[] claims = new long[2 * PAD];
    final Call[][] rings;
    final AtomicReference<Throwable> abortCause = new AtomicReference<>();
    final List<Shared> children = new CopyOnWriteArrayList<>();
    final InProcessCommunicator[] members;

    Shared(int size, Communicator.Context context) {
        this.size = size;
        this.context = context;
        this.timeoutNs = context.timeoutNs();
        this.slots = new Call[size][];
        for (int r = 0; r < size; r++) {
            slots[r] = newCalls(4);
        }
        this.slotCounts = new int[size];
        this.arrived = new long[size * PAD];
        this.waiters = new Thread[size];
        this.posted = new long[size * size * PAD];
        this.consumed = new long[size * size * PAD];
        this.rings = new Call[size * size][];
        this.members = new InProcessCommunicator[size];
    }

    static Call[] newCalls(int n) {
        Call[] calls = new Call[n];
        for (int i = 0; i < n; i++) {
            calls[i] = new Call();
        }
        return calls;
    }

    long arrived(int rank) {
        return (long) LONGS.getVolatile(arrived, rank * PAD);
    }

    boolean allArrived(long phase) {
        for (int q = 0; q < size; q++) {
            if ((long) LONGS.getVolatile(arrived, q * PAD) < phase) {
                return false;
            }
        }
        return true;
    }

    void unparkAll() {
        for (int q = 0; q < size; q++) {
            Thread t = (Thread) THREADS.getVolatile(waiters, q);
            if (t != null) {
                LockSupport.unpark(t);
            }
        }
    }

    void unpark(int rank) {
        Thread t = (Thread) THREADS.getVolatile(waiters, rank);
        if (t != null) {
            LockSupport.unpark(t);
        }
    }

    /** Sets the abort cause if none is set yet and wakes every waiter; returns the cause in force. */
    Throwable abort(Throwable cause) {
        abortCause.compareAndSet(null, cause);
        unparkAll();
        return abortCause.get();
    }

    /** Aborts this communicator and every one split from it, recursively. */
    void abortTree(Throwable cause) {
        abort(cause);
        for (Shared child : children) {
            child.abortTree(cause);
        }
    }
}
