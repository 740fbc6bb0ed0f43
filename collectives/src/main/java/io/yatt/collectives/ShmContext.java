package io.yatt.collectives;


import java.nio.file.Path;
import java.util.Objects;
import java.util.concurrent.TimeUnit;

/**
 * Settings of the shm backend, Agrona style: fluent accessors without prefixes, validated once by
 * {@link #conclude()}, immutable after. The generic settings (deadline, debug checks) come from a
 * {@link Communicator.Context}. Not thread-safe until concluded.
 */
public final class ShmContext {
    /** Where POSIX shared memory lives on Linux, the default {@link #directory()}. */
    public static final Path DEFAULT_DIRECTORY = Path.of("/dev/shm");
    /** Default arena per rank: address space only until touched (tmpfs pages are allocated on first write). */
    public static final long DEFAULT_ARENA_BYTES = 1L << 30;
    /** Default size of one staging half of the world communicator (a round moves at most this much per rank). */
    public static final long DEFAULT_STAGING_BYTES = 4L << 20;
    /** Default size of one staging half of a communicator made by {@code split}. */
    public static final long DEFAULT_SPLIT_STAGING_BYTES = 1L << 20;
    /** Default size of one point-to-point slot (two per peer). */
    public static final long DEFAULT_P2P_SLOT_BYTES = 512L << 10;
    /** Default pure-spin time before a waiting rank starts yielding the CPU (not oversubscribed). */
    public static final long DEFAULT_SPIN_NS = TimeUnit.MICROSECONDS.toNanos(50);
    /** Default interval between checks that peer processes are alive while waiting. */
    public static final long DEFAULT_LIVENESS_INTERVAL_NS = TimeUnit.MILLISECONDS.toNanos(5);

    private Communicator.Context base = new Communicator.Context();
    private long arenaBytes = DEFAULT_ARENA_BYTES;
    private long stagingBytes = DEFAULT_STAGING_BYTES;
    private long splitStagingBytes = DEFAULT_SPLIT_STAGING_BYTES;
    private long p2pSlotBytes = DEFAULT_P2P_SLOT_BYTES;
    private long spinNs = DEFAULT_SPIN_NS;
    private long livenessIntervalNs = DEFAULT_LIVENESS_INTERVAL_NS;
    private Path directory = DEFAULT_DIRECTORY;
    private int localWorldSize;
    private boolean boundToCores;
    private boolean concluded;

    /** A context with the defaults. */
    public ShmContext() {
    }

    /** Generic settings: deadline and debug checks. */
    public Communicator.Context base() {
        return base;
    }

    /** Sets the generic settings (concluded by {@link #conclude()}). */
    public ShmContext base(Communicator.Context value) {
        checkNotConcluded();
        this.base = Objects.requireNonNull(value, "base");
        return this;
    }

    /** Deadline of every blocking call, from {@link #base()}. */
    public long timeoutNs() {
        return base.timeoutNs();
    }

    /** Whether calls are checked for matching op/count/dtype/root across ranks, from {@link #base()}. */
    public boolean debugChecks() {
        return base.debugChecks();
    }

    /** Bytes of this rank's arena (tensors from {@code allocate} and staging buffers). */
    public long arenaBytes() {
        return arenaBytes;
    }

    /** Sets {@link #arenaBytes()}. */
    public ShmContext arenaBytes(long value) {
        checkNotConcluded();
        this.arenaBytes = value;
        return this;
    }

    /** Bytes of one staging half of the world communicator. */
    public long stagingBytes() {
        return stagingBytes;
    }

    /** Sets {@link #stagingBytes()}. */
    public ShmContext stagingBytes(long value) {
        checkNotConcluded();
        this.stagingBytes = value;
        return this;
    }

    /** Bytes of one staging half of a split communicator. */
    public long splitStagingBytes() {
        return splitStagingBytes;
    }

    /** Sets {@link #splitStagingBytes()}. */
    public ShmContext splitStagingBytes(long value) {
        checkNotConcluded();
        this.splitStagingBytes = value;
        return this;
    }

    /** Bytes of one point-to-point slot; each peer pair has two. */
    public long p2pSlotBytes() {
        return p2pSlotBytes;
    }

    /** Sets {@link #p2pSlotBytes()}. */
    public ShmContext p2pSlotBytes(long value) {
        checkNotConcluded();
        this.p2pSlotBytes = value;
        return this;
    }

    /**
     * Whether every local rank runs pinned to a core of its own (as {@code ShmLauncher} pins with
     * {@code bindToCores}): then waiting spins for {@link #spinNs()} even though a pinned JVM sees one CPU.
     */
    public boolean boundToCores() {
        return boundToCores;
    }

    /** Sets {@link #boundToCores()}. */
    public ShmContext boundToCores(boolean value) {
        checkNotConcluded();
        this.boundToCores = value;
        return this;
    }

    /**
     * Pure-spin time before yielding; after 1 ms (or this, if longer) a waiting rank sleeps on a futex until the
     * peer posts. Ignored when more local ranks than CPUs share the host and they are not
     * {@link #boundToCores() bound to cores}: they sleep after a few spins.
     */
    public long spinNs() {
        return spinNs;
    }

    /** Sets {@link #spinNs()}. */
    public ShmContext spinNs(long value) {
        checkNotConcluded();
        this.spinNs = value;
        return this;
    }

    /** Interval between peer liveness checks while waiting. */
    public long livenessIntervalNs() {
        return livenessIntervalNs;
    }

    /** Sets {@link #livenessIntervalNs()}. */
    public ShmContext livenessIntervalNs(long value) {
        checkNotConcluded();
        this.livenessIntervalNs = value;
        return this;
    }

    /** Directory of the region files, {@code /dev/shm} by default. */
    public Path directory() {
        return directory;
    }

    /** Sets {@link #directory()}. */
    public ShmContext directory(Path value) {
        checkNotConcluded();
        this.directory = Objects.requireNonNull(value, "directory");
        return this;
    }

    /** Ranks on this host (0 = the world size); more ranks than CPUs makes waiting ranks yield at once. */
    public int localWorldSize() {
        return localWorldSize;
    }

    /** Sets {@link #localWorldSize()}. */
    public ShmContext localWorldSize(int value) {
        checkNotConcluded();
        this.localWorldSize = value;
        return this;
    }

    /**
     * Validates and freezes the settings; a second call does nothing.
     *
     * @throws IllegalArgumentException naming the invalid setting
     */
    public ShmContext conclude() {
        if (concluded) {
            return this;
        }
        base.conclude();
        long minStaging = 64 * 1024;
        check(arenaBytes >= 0, "arenaBytes", arenaBytes, ">= 0");
        check(stagingBytes >= minStaging, "stagingBytes", stagingBytes, ">= " + minStaging);
        check(splitStagingBytes >= minStaging, "splitStagingBytes", splitStagingBytes, ">= " + minStaging);
        check(p2pSlotBytes >= 4096, "p2pSlotBytes", p2pSlotBytes, ">= 4096");
        check(spinNs >= 0, "spinNs", spinNs, ">= 0");
        check(livenessIntervalNs > 0, "livenessIntervalNs", livenessIntervalNs, "> 0");
        check(localWorldSize >= 0, "localWorldSize", localWorldSize, ">= 0");
        concluded = true;
        return this;
    }

    /** Whether {@link #conclude()} ran. */
    public boolean isConcluded() {
        return concluded;
    }

    private static void check(boolean ok, String name, long value, String expected) {
        if (!ok) {
            throw new IllegalArgumentException("invalid " + name + ": " + name + "=" + value + ", expected " + expected);
        }
    }

    private void checkNotConcluded() {
        if (concluded) {
            throw new IllegalStateException("context already concluded");
        }
    }

    @Override
    public String toString() {
        return "ShmContext{timeoutNs=" + timeoutNs() + ", debugChecks=" + debugChecks() + ", arenaBytes=" + arenaBytes
            + ", stagingBytes=" + stagingBytes + ", p2pSlotBytes=" + p2pSlotBytes + ", directory=" + directory + "}";
    }
}
