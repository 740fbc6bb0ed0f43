package io.yatt.trainer.launch;

import io.yatt.collectives.CollectiveTimeoutException;
import io.yatt.collectives.CommunicatorAbortedException;
import io.yatt.controller.WorkerMethod;
import io.yatt.controller.WorkerMethods;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.lang.reflect.Method;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * Leaves the report of a lost peer to the controller. When a rank of a multi-process world dies in a collective, its
 * peers notice first (the shm backend checks peer liveness every few milliseconds) and their calls fail with a
 * symptom ({@link CollectiveTimeoutException}, {@link CommunicatorAbortedException}); reported at once, that symptom
 * would fail the controller's call before the controller sees the cause. So a call failing that way waits up to a
 * bound before its error is sent: meanwhile the controller counts the dead worker as lost, fails the call with
 * {@link io.yatt.controller.WorkerLostException} naming it, and aborts this worker's calls, which ends the wait.
 * Stateless.
 */
final class PeerLossVerdict {

    private static final MethodHandle CALL;

    static {
        try {
            CALL = MethodHandles.lookup().findStatic(PeerLossVerdict.class, "call", MethodType.methodType(
                    Object.class, WorkerMethods.class, String.class, long.class, Object[].class));
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    private PeerLossVerdict() {
    }

    /**
     * {@code methods} (the table of {@code target}'s annotated methods) with every call that fails from a lost peer
     * held up to {@code waitNs}, or until its thread is interrupted (the worker runtime does on an abort), before it
     * throws.
     */
    static WorkerMethods wrap(WorkerMethods methods, Object target, long waitNs) {
        Map<String, Integer> arities = new HashMap<>();
        for (Method m : target.getClass().getDeclaredMethods()) {
            WorkerMethod a = m.getAnnotation(WorkerMethod.class);
            if (a != null) {
                arities.put(a.name().isEmpty() ? m.getName() : a.name(), m.getParameterCount());
            }
        }
        WorkerMethods.Builder builder = WorkerMethods.builder();
        for (String name : methods.names()) {
            MethodHandle handle = MethodHandles.insertArguments(CALL, 0, methods, name, waitNs)
                    .asCollector(Object[].class, arities.get(name));
            builder.method(name, methods.dispatchMode(name), handle);
        }
        return builder.build();
    }

    /** Whether {@code failure} or one of its causes says a peer of a collective was lost. */
    static boolean fromLostPeer(Throwable failure) {
        for (Throwable t = failure; t != null; t = t.getCause() == t ? null : t.getCause()) {
            if (t instanceof CollectiveTimeoutException || t instanceof CommunicatorAbortedException) {
                return true;
            }
        }
        return false;
    }

    private static Object call(WorkerMethods methods, String name, long waitNs, Object[] args) throws Throwable {
        try {
            return methods.invoke(name, Arrays.asList(args));
        } catch (Throwable t) {
            if (fromLostPeer(t)) {
                try {
                    TimeUnit.NANOSECONDS.sleep(waitNs);
                } catch (InterruptedException aborted) {
                    Thread.currentThread().interrupt();
                }
            }
            throw t;
        }
    }
}
