package io.yatt.collectives.shm;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;

/**
 * Linux futex wait and wake on a 32-bit word of shared memory (the non-private form, so it works across the rank
 * processes that map the same region), through glibc's {@code syscall} by FFM. Where it cannot be linked (not
 * Linux, an architecture without a known futex number) {@link #AVAILABLE} is false and callers keep yielding.
 * Return values are ignored: a wait that returns early (value changed, timeout, signal) is a spurious wake-up, and
 * every caller re-checks its condition. Stateless and thread-safe.
 */
final class ShmFutex {
    private static final int FUTEX_WAIT = 0;
    private static final int FUTEX_WAKE = 1;
    private static final MethodHandle SYSCALL = linkSyscall();
    private static final long SYS_FUTEX = futexNumber(System.getProperty("os.arch", ""));
    /** Whether {@link #await} and {@link #wakeAll} reach the kernel here. */
    static final boolean AVAILABLE = SYSCALL != null && SYS_FUTEX > 0
        && System.getProperty("os.name", "").startsWith("Linux");

    private ShmFutex() {
    }

    private static long futexNumber(String arch) {
        return switch (arch) {
            case "amd64", "x86_64" -> 202;
            case "aarch64", "riscv64" -> 98;
            default -> -1;
        };
    }

    private static MethodHandle linkSyscall() {
        try {
            Linker linker = Linker.nativeLinker();
            // long syscall(long number, ...): uaddr, op, val, timeout
            return linker.defaultLookup().find("syscall")
                .map(addr -> linker.downcallHandle(addr,
                    FunctionDescriptor.of(ValueLayout.JAVA_LONG, ValueLayout.JAVA_LONG, ValueLayout.ADDRESS,
                        ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.ADDRESS),
                    Linker.Option.firstVariadicArg(1)))
                .orElse(null);
        } catch (RuntimeException | LinkageError e) {
            return null;
        }
    }

    /** A {@code struct timespec} of {@code timeoutNs} (below one second) for {@link #await}, from {@code arena}. */
    static MemorySegment timeout(Arena arena, long timeoutNs) {
        if (timeoutNs <= 0 || timeoutNs >= 1_000_000_000L) {
            throw new IllegalArgumentException("futex timeout out of range: timeoutNs=" + timeoutNs
                + ", expected 1..999999999");
        }
        MemorySegment ts = arena.allocate(16, 8);
        ts.set(ValueLayout.JAVA_LONG, 0, 0);
        ts.set(ValueLayout.JAVA_LONG, 8, timeoutNs);
        return ts;
    }

    /** Sleeps while the 4-byte {@code word} holds {@code expected}, at most the time in {@code timespec}. */
    static void await(MemorySegment word, int expected, MemorySegment timespec) {
        try {
            long ignored = (long) SYSCALL.invokeExact(SYS_FUTEX, word, FUTEX_WAIT, expected, timespec);
        } catch (Throwable t) {
            throw new IllegalStateException("futex wait failed: address=" + word.address(), t);
        }
    }

    /** Wakes every thread (of any process) sleeping on {@code word}. */
    static void wakeAll(MemorySegment word) {
        try {
            long ignored = (long) SYSCALL.invokeExact(SYS_FUTEX, word, FUTEX_WAKE, Integer.MAX_VALUE,
                MemorySegment.NULL);
        } catch (Throwable t) {
            throw new IllegalStateException("futex wake failed: address=" + word.address(), t);
        }
    }
}
