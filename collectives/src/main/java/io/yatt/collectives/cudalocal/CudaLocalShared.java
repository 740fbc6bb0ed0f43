package io.yatt.collectives.cudalocal;

import io.yatt.collectives.Communicator;

import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;

/**
 * State shared by the ranks of one cuda-local communicator: the calls each rank posted for its current collective
 * operation (double-buffered by the parity of the rank's collective count, because a rank may post operation
 * {@code n + 1} while a slower peer still reads operation {@code n}), the first failure, and the registry through
 * which the members of a split find their new shared state. Posted calls are published by the in-process control
 * barrier (volatile counters), so plain fields suffice here.
 */
final class CudaLocalShared {
    final int size;
    final Communicator.Context context;
    /** posted[rank][parity]: the collective calls rank posted for its operation of that parity. */
    final List<DeviceCall>[][] posted;
    final AtomicReference<Throwable> abortCause = new AtomicReference<>();
    final CudaLocalCommunicator[] members;
    final List<CudaLocalShared> children = new CopyOnWriteArrayList<>();
    private final Map<String, Pending> splits = new ConcurrentHashMap<>();

    @SuppressWarnings("unchecked")
    CudaLocalShared(int size, Communicator.Context context) {
        this.size = size;
        this.context = context;
        this.posted = (List<DeviceCall>[][]) new List<?>[size][2];
        this.members = new CudaLocalCommunicator[size];
    }

    /**
     * The shared state of the new communicator {@code (splitNumber, color)}: the first member to ask creates it, the
     * last one to ask removes it from the registry.
     */
    CudaLocalShared splitChild(long splitNumber, int color, int childSize) {
        String key = splitNumber + ":" + color;
        Pending pending = splits.computeIfAbsent(key, k -> {
            CudaLocalShared child = new CudaLocalShared(childSize, context);
            children.add(child);
            return new Pending(child);
        });
        if (pending.joined.incrementAndGet() == childSize) {
            splits.remove(key);
        }
        return pending.child;
    }

    /** Records {@code cause} as the failure of this communicator unless one is recorded; returns the one in force. */
    Throwable fail(Throwable cause) {
        abortCause.compareAndSet(null, cause);
        return abortCause.get();
    }

    private record Pending(CudaLocalShared child, AtomicInteger joined) {
        Pending(CudaLocalShared child) {
            this(child, new AtomicInteger());
        }
    }
}
