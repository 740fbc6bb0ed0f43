package io.yatt.controller;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.yatt.controller.internal.runtime.WorkerSession;
import io.yatt.controller.internal.wire.Message;
import java.util.List;
import java.util.HashMap;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import org.junit.jupiter.api.Test;

/**
 * The proxy's signature check on its own: registrations made up here, a group that is never called, and the cases a
 * group of live workers does not reach (a type the controller lacks, a void rank-zero method, registered payload
 * types, workers that sent no signature, an unknown mode).
 */
class ProxySignaturesTest {

    /** A registered payload type's class. */
    record Point(int x, int y) {
    }

    interface Points {
        Point move(Point from);
    }

    interface Anything {
        Object lookup(Object key);
    }

    interface VoidAsReference {
        String reset();
    }

    interface VoidAsPrimitive {
        int reset();
    }

    interface ShortParameter {
        String label(short value);
    }

    interface IntForShort {
        String label(int value);
    }

    interface ListsOfSets {
        List<Integer> spread(List<Set<String>> values);
    }

    private static Message.MethodEntry entry(String name, String mode, String returnType, String... parameters) {
        return new Message.MethodEntry(name, mode,
                Optional.of(new Message.MethodSignature(List.of(parameters), returnType)));
    }

    private static Message.Register register(int workerId, Message.MethodEntry... methods) {
        return new Message.Register(workerId, 0, 1L, 2, List.of("actor"), List.of(), List.of(methods), "h", "c",
                new byte[0]);
    }

    /** A proxy of {@code api} over workers registered as {@code registrations}, {@code Point} a payload type. */
    private static Object proxy(Class<?> api, List<Message.Register> registrations) {
        Map<String, String> modes = new HashMap<>();
        for (Message.Register r : registrations) {
            for (Message.MethodEntry m : r.methods()) {
                modes.put(m.name(), m.dispatchMode());
            }
        }
        WorkerGroup group = new WorkerGroup(null, null, "actor", new WorkerSession[0],
                new GroupTopology(List.of(new GroupTopology.WorkerInfo(0, Map.of()))), modes, DispatchModes::byName);
        return GroupProxy.create(group, api, modes.keySet(), new ProxySignatures("actor", modes,
                DispatchModes::byName, registrations, List.of(DataBatch.class, Point.class)));
    }

    private static String refusal(Class<?> api, Message.Register... registrations) {
        return assertThrows(IllegalArgumentException.class, () -> proxy(api, List.of(registrations))).getMessage();
    }

    @Test
    void shouldAcceptRegisteredPayloadTypeAndRefuseOneTheControllerLacks() {
        String point = Point.class.getTypeName();
        proxy(Points.class, List.of(register(1, entry("move", "RANK_ZERO", point, point))));
        assertEquals("proxy parameter type mismatch: group=actor, interface=io.yatt.controller.ProxySignaturesTest"
                + "$Anything, method=lookup, mode=RANK_ZERO, index=0, expected=com.example.Missing, "
                + "actual=java.lang.Object", refusal(Anything.class,
                        register(1, entry("lookup", "RANK_ZERO", "java.lang.Object", "com.example.Missing"))));
        assertEquals("proxy return type mismatch: group=actor, interface=io.yatt.controller.ProxySignaturesTest"
                + "$Anything, method=lookup, mode=RANK_ZERO, expected=com.example.Missing, actual=java.lang.Object",
                refusal(Anything.class, register(1, entry("lookup", "RANK_ZERO", "com.example.Missing",
                        "java.lang.Object"))));
    }

    @Test
    void shouldTakeVoidRankZeroResultAsNull() {
        proxy(VoidAsReference.class, List.of(register(1, entry("reset", "RANK_ZERO", "void"))));
        assertEquals("proxy return type mismatch: group=actor, interface=io.yatt.controller.ProxySignaturesTest"
                + "$VoidAsPrimitive, method=reset, mode=RANK_ZERO, expected=void, actual=int",
                refusal(VoidAsPrimitive.class, register(1, entry("reset", "RANK_ZERO", "void"))));
    }

    @Test
    void shouldRefuseParameterTypesThatNoPayloadCarries() {
        assertEquals("proxy parameter type is not a payload type: group=actor, interface=io.yatt.controller"
                + ".ProxySignaturesTest$ShortParameter, method=label, mode=ONE_TO_ALL, index=0, type=short, "
                + "expected=Boolean, Integer, Long, Double, String, byte[], float[], List, Map or a registered "
                + "PayloadType", refusal(ShortParameter.class, register(1, entry("label", "ONE_TO_ALL",
                        "java.util.List", "short"))));
        // an int arrives as an Integer, which a short parameter does not take (no narrowing)
        assertEquals("proxy parameter type mismatch: group=actor, interface=io.yatt.controller.ProxySignaturesTest"
                + "$IntForShort, method=label, mode=ONE_TO_ALL, index=0, expected=short, actual=int",
                refusal(IntForShort.class, register(1, entry("label", "ONE_TO_ALL", "java.util.List", "short"))));
        assertEquals("proxy parameter type is not a payload type: group=actor, interface=io.yatt.controller"
                + ".ProxySignaturesTest$ListsOfSets, method=spread, mode=DP_COMPUTE, index=0, "
                + "type=java.util.List<java.util.Set<java.lang.String>>, expected=Boolean, Integer, Long, Double, "
                + "String, byte[], float[], List, Map or a registered PayloadType",
                refusal(ListsOfSets.class, register(1, entry("spread", "DP_COMPUTE", "int", "java.lang.Object"))));
    }

    @Test
    void shouldCheckAgainstWorkersThatSentSignaturesOnly() {
        Message.Register unsigned = register(1, new Message.MethodEntry("reset", "RANK_ZERO"));
        proxy(VoidAsPrimitive.class, List.of(unsigned));
        assertEquals("proxy return type mismatch: group=actor, interface=io.yatt.controller.ProxySignaturesTest"
                + "$VoidAsPrimitive, method=reset, mode=RANK_ZERO, expected=void, actual=int",
                refusal(VoidAsPrimitive.class, unsigned, register(2, entry("reset", "RANK_ZERO", "void"))));
    }

    @Test
    void shouldCheckOnlyNamesWhenTheModeIsUnknown() {
        proxy(VoidAsPrimitive.class, List.of(register(1, entry("reset", "NO_SUCH_MODE", "void"))));
    }
}
