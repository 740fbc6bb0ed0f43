package io.yatt.tensor;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A named node in a tree of allocators (Arrow style): {@code root("trainer").child("rollout-kv")}. Each node
 * accounts the bytes of the tensors allocated through it and its descendants, keeps the peak, and enforces its limit
 * and every ancestor's limit. Closing a node that still owns live tensors, or that has open children, throws and
 * names it; with {@code -Dyatt.tensor.debugAllocations=true} (read when a root is created) the error also lists
 * where each live tensor was allocated. Thread-safe: one lock per tree.
 */
public final class Allocator implements AutoCloseable {
    /** System property that makes new roots record the stack trace of every allocation. */
    public static final String DEBUG_ALLOCATIONS_PROPERTY = "yatt.tensor.debugAllocations";
    /** No limit. */
    public static final long UNLIMITED = Long.MAX_VALUE;
    /** Alignment of host allocations in bytes (a cache line; enough for any dtype and vector loads). */
    static final long HOST_ALIGNMENT_BYTES = 64;

    private final Allocator parent;
    private final String name;
    private final long limitBytes;
    private final Object lock;
    private final boolean debug;
    /** Where host memory comes from; null: a fresh shared Arena per tensor. Inherited by children. */
    private final HostMemory hostMemory;
    private final Map<String, Allocator> children = new LinkedHashMap<>();
    private final Set<Storage> live = new LinkedHashSet<>();
    private long allocatedBytes;
    private long peakBytes;
    private long liveOwnBytes;
    private boolean closed;

    private Allocator(Allocator parent, String name, long limitBytes, Object lock, boolean debug,
                      HostMemory hostMemory) {
        this.parent = parent;
        this.name = name;
        this.limitBytes = limitBytes;
        this.lock = lock;
        this.debug = debug;
        this.hostMemory = hostMemory;
    }

    /**
     * A root allocator without a limit.
     *
     * @throws IllegalArgumentException if the name is empty or contains '/'
     */
    public static Allocator root(String name) {
        return root(name, UNLIMITED);
    }

    /**
     * A root allocator that refuses allocations past {@code limitBytes}.
     *
     * @throws IllegalArgumentException if the name is empty or contains '/', or the limit is negative
     */
    public static Allocator root(String name, long limitBytes) {
        checkName(name);
        checkLimit(name, limitBytes);
        return new Allocator(null, name, limitBytes, new Object(), Boolean.getBoolean(DEBUG_ALLOCATIONS_PROPERTY),
                null);
    }

    /**
     * A root allocator whose host tensors (and its descendants') take their memory from {@code hostMemory} instead
     * of a fresh Arena each, accounted and limited as usual; device and pinned tensors are unaffected.
     *
     * @throws IllegalArgumentException if the name is empty or contains '/', or the limit is negative
     * @throws NullPointerException if {@code hostMemory} is null
     */
    public static Allocator root(String name, long limitBytes, HostMemory hostMemory) {
        checkName(name);
        checkLimit(name, limitBytes);
        if (hostMemory == null) {
            throw new NullPointerException("hostMemory");
        }
        return new Allocator(null, name, limitBytes, new Object(), Boolean.getBoolean(DEBUG_ALLOCATIONS_PROPERTY),
                hostMemory);
    }

    /**
     * A child without a limit of its own (its ancestors' limits still apply).
     *
     * @throws IllegalArgumentException if the name is invalid or an open child has it already
     * @throws IllegalStateException if this allocator is closed
     */
    public Allocator child(String name) {
        return child(name, UNLIMITED);
    }

    /**
     * A child that refuses allocations past {@code limitBytes} (its ancestors' limits still apply).
     *
     * @throws IllegalArgumentException if the name is invalid or an open child has it already, or the limit is negative
     * @throws IllegalStateException if this allocator is closed
     */
    public Allocator child(String name, long limitBytes) {
        checkName(name);
        String path = this.name + "/" + name;
        checkLimit(path, limitBytes);
        synchronized (lock) {
            checkOpen();
            if (children.containsKey(name)) {
                throw new IllegalArgumentException("allocator child already exists: allocator=" + path);
            }
            Allocator child = new Allocator(this, path, limitBytes, lock, debug, hostMemory);
            children.put(name, child);
            return child;
        }
    }

    /** The path from the root, e.g. {@code "trainer/rollout-kv"}. */
    public String name() {
        return name;
    }

    /**
     * Where this allocator's tree takes host memory from: the {@link HostMemory} its root was made with, or empty for
     * the default (malloc through the caching allocator), so that a backend can tell whether a caller's scratch lies in
     * its own shared memory.
     */
    public java.util.Optional<HostMemory> hostMemory() {
        return java.util.Optional.ofNullable(hostMemory);
    }

    /** Bytes currently allocated through this allocator and its descendants. */
    public long allocatedBytes() {
        synchronized (lock) {
            return allocatedBytes;
        }
    }

    /** The highest value {@link #allocatedBytes()} has reached. */
    public long peakBytes() {
        synchronized (lock) {
            return peakBytes;
        }
    }

    /** This allocator's own limit ({@link #UNLIMITED} if none). */
    public long limitBytes() {
        return limitBytes;
    }

    /** Number of live tensors allocated directly through this allocator (not its children). */
    public long liveCount() {
        synchronized (lock) {
            return live.size();
        }
    }

    /** Whether {@link #close()} has succeeded. */
    public boolean isClosed() {
        synchronized (lock) {
            return closed;
        }
    }

    /**
     * Closes this allocator.
     *
     * @throws IllegalStateException if it is already closed, has open children, or still owns live tensors (the
     *     message names the allocator, the live bytes and count, and the allocation sites in debug mode); the
     *     allocator stays open in the last two cases, so it can be closed once the tensors are
     */
    @Override
    public void close() {
        synchronized (lock) {
            if (closed) {
                throw new IllegalStateException("allocator already closed: allocator=" + name);
            }
            if (!children.isEmpty()) {
                List<String> open = new ArrayList<>();
                for (Allocator child : children.values()) {
                    open.add(child.name);
                }
                throw new IllegalStateException("allocator closed with open children: allocator=" + name
                        + ", children=" + open);
            }
            if (!live.isEmpty()) {
                throw new IllegalStateException(liveMessage());
            }
            closed = true;
            if (parent != null) {
                parent.children.remove(name.substring(name.lastIndexOf('/') + 1));
            }
        }
    }

    /**
     * Returns the cached (freed, kept for reuse) device memory of {@code device}'s caching pool to the driver
     * (cudaFree), except blocks whose recorded work is still running.
     *
     * @return bytes released; 0 for the host or a device never allocated on
     */
    public static long emptyCache(Device device) {
        return device.isHost() ? 0 : DeviceMemory.emptyCache(device.ordinal());
    }

    /** Bytes held in {@code device}'s caching pool for reuse (0 for the host). */
    public static long cachedBytes(Device device) {
        return device.isHost() ? 0 : DeviceMemory.cachedBytes(device.ordinal());
    }

    /** Bytes {@code device}'s caching pool has obtained from the driver and not released (0 for the host). */
    public static long reservedBytes(Device device) {
        return device.isHost() ? 0 : DeviceMemory.reservedBytes(device.ordinal());
    }

    @Override
    public String toString() {
        synchronized (lock) {
            return "Allocator[name=" + name + ", allocatedBytes=" + allocatedBytes + ", peakBytes=" + peakBytes
                    + ", limitBytes=" + (limitBytes == UNLIMITED ? "unlimited" : Long.toString(limitBytes)) + "]";
        }
    }

    /**
     * Allocates zeroed host memory from its own shared Arena, so it can be freed alone from any thread, or from the
     * root's {@link HostMemory}.
     */
    Storage allocateHost(long byteSize, String description) {
        Throwable site = reserve(byteSize, description);
        if (hostMemory != null) {
            MemorySegment segment;
            try {
                segment = hostMemory.allocate(byteSize, HOST_ALIGNMENT_BYTES);
            } catch (Throwable e) {
                unreserve(byteSize);
                throw e;
            }
            HostMemory source = hostMemory;
            return register(Storage.host(segment, this, () -> source.free(segment), site));
        }
        Arena arena = Arena.ofShared();
        MemorySegment segment;
        try {
            segment = arena.allocate(byteSize, HOST_ALIGNMENT_BYTES);
        } catch (Throwable e) {
            arena.close();
            unreserve(byteSize);
            throw e;
        }
        return register(Storage.host(segment, this, arena, site));
    }

    /**
     * Accounts {@code byteSize} against this allocator and its ancestors before memory is obtained.
     *
     * @return the recorded allocation site in debug mode, else null
     */
    Throwable reserve(long byteSize, String description) {
        synchronized (lock) {
            checkOpen();
            for (Allocator node = this; node != null; node = node.parent) {
                if (byteSize > node.limitBytes - node.allocatedBytes) {
                    throw new IllegalStateException("allocation exceeds limit: allocator=" + node.name
                            + ", requested=" + byteSize + ", allocated=" + node.allocatedBytes
                            + ", limit=" + node.limitBytes);
                }
            }
            for (Allocator node = this; node != null; node = node.parent) {
                node.allocatedBytes += byteSize;
                node.peakBytes = Math.max(node.peakBytes, node.allocatedBytes);
            }
        }
        return debug ? new Throwable("allocated " + description + " (" + byteSize + " bytes) from " + name) : null;
    }

    /** Undoes a {@link #reserve} whose memory could not be obtained. */
    void unreserve(long byteSize) {
        synchronized (lock) {
            for (Allocator node = this; node != null; node = node.parent) {
                node.allocatedBytes -= byteSize;
            }
        }
    }

    /** Records a storage obtained after {@link #reserve} as live. */
    Storage register(Storage storage) {
        synchronized (lock) {
            live.add(storage);
            liveOwnBytes += storage.byteSize();
        }
        return storage;
    }

    /** Called once by {@link Storage#close()}. */
    void released(Storage storage) {
        synchronized (lock) {
            if (live.remove(storage)) {
                liveOwnBytes -= storage.byteSize();
                for (Allocator node = this; node != null; node = node.parent) {
                    node.allocatedBytes -= storage.byteSize();
                }
            }
        }
    }

    private String liveMessage() {
        StringBuilder message = new StringBuilder("allocator closed with live tensors: allocator=").append(name)
                .append(", liveBytes=").append(liveOwnBytes).append(", liveCount=").append(live.size());
        if (debug) {
            message.append("; allocation sites:");
            for (Storage storage : live) {
                Throwable site = storage.allocationSite();
                if (site == null) {
                    continue;
                }
                message.append("\n  ").append(site.getMessage());
                for (StackTraceElement frame : site.getStackTrace()) {
                    message.append("\n    at ").append(frame);
                }
            }
        }
        return message.toString();
    }

    private void checkOpen() {
        if (closed) {
            throw new IllegalStateException("allocator is closed: allocator=" + name);
        }
    }

    private static void checkName(String name) {
        if (name == null || name.isEmpty() || name.indexOf('/') >= 0) {
            throw new IllegalArgumentException("invalid allocator name: name=" + name
                    + ", expected a non-empty name without '/'");
        }
    }

    private static void checkLimit(String path, long limitBytes) {
        if (limitBytes < 0) {
            throw new IllegalArgumentException("negative allocator limit: allocator=" + path
                    + ", limitBytes=" + limitBytes);
        }
    }
}
