package io.yatt.controller;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.yatt.controller.internal.wire.Message;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.util.List;
import org.junit.jupiter.api.Test;

class WorkerMethodsTest {

    static final class Target {
        int calls;

        @WorkerMethod(dispatch = "ONE_TO_ALL")
        long scale(long value, int factor) {
            calls++;
            return value * factor;
        }

        @WorkerMethod(dispatch = "RANK_ZERO", name = "reset")
        void clear() {
            calls = 0;
        }

        int notAWorkerMethod() {
            return -1;
        }
    }

    @Test
    void shouldReportEachMethodsDeclaredTypesForItsRegistration() {
        WorkerMethods methods = WorkerMethods.annotated(new Target(), MethodHandles.lookup());
        assertEquals(MethodType.methodType(long.class, long.class, int.class), methods.type("scale"));
        assertEquals(MethodType.methodType(void.class), methods.type("reset"));
        assertEquals("(long,int)long", Message.MethodSignature.of(methods.type("scale")).toString());
        assertEquals("unknown worker method: method=nope, known=[reset, scale]",
                assertThrows(IllegalArgumentException.class, () -> methods.type("nope")).getMessage());
    }

    @Test
    void shouldBuildTableFromAnnotatedMethods() throws Throwable {
        Target target = new Target();
        WorkerMethods methods = WorkerMethods.annotated(target, MethodHandles.lookup());
        assertEquals(List.of("reset", "scale"), methods.names().stream().sorted().toList());
        assertEquals("ONE_TO_ALL", methods.dispatchMode("scale"));
        assertEquals("RANK_ZERO", methods.dispatchMode("reset"));
        assertEquals(42L, methods.invoke("scale", List.of(21L, 2)));
        assertEquals(1, target.calls);
        assertNull(methods.invoke("reset", List.of()));
        assertEquals(0, target.calls);
    }

    @Test
    void shouldRegisterExplicitHandle() throws Throwable {
        WorkerMethods methods = WorkerMethods.builder().method("concat", "ONE_TO_ALL",
                MethodHandles.lookup().findVirtual(String.class, "concat",
                        MethodType.methodType(String.class, String.class))).build();
        assertEquals("ab", methods.invoke("concat", List.of("a", "b")));
    }

    @Test
    void shouldRejectUnknownMethodAndWrongArgumentCountAndType() {
        WorkerMethods methods = WorkerMethods.annotated(new Target(), MethodHandles.lookup());
        IllegalArgumentException unknown = assertThrows(IllegalArgumentException.class,
                () -> methods.invoke("train", List.of()));
        assertEquals("unknown worker method: method=train, known=[reset, scale]", unknown.getMessage());
        IllegalArgumentException count = assertThrows(IllegalArgumentException.class,
                () -> methods.invoke("scale", List.of(1L)));
        assertEquals("argument count mismatch: method=scale, expected=2, actual=1", count.getMessage());
        IllegalArgumentException type = assertThrows(IllegalArgumentException.class,
                () -> methods.invoke("scale", List.of("x", 2)));
        assertEquals("argument type mismatch: method=scale, index=0, expected=long, actual=java.lang.String",
                type.getMessage());
        IllegalArgumentException narrowing = assertThrows(IllegalArgumentException.class,
                () -> methods.invoke("scale", List.of(3L, 2L)));
        assertEquals("argument type mismatch: method=scale, index=1, expected=int, actual=java.lang.Long",
                narrowing.getMessage());
        IllegalArgumentException missing = assertThrows(IllegalArgumentException.class,
                () -> methods.invoke("scale", java.util.Arrays.asList(null, 2)));
        assertEquals("argument type mismatch: method=scale, index=0, expected=long, actual=null",
                missing.getMessage());
    }

    @Test
    void shouldWidenBoxedPrimitivesAsAJavaCallDoes() throws Throwable {
        WorkerMethods methods = WorkerMethods.annotated(new Target(), MethodHandles.lookup());
        assertEquals(12L, methods.invoke("scale", List.of(3, 4)));
        assertEquals(12L, methods.invoke("scale", List.of((short) 3, (byte) 4)));
        assertEquals(97L * 2, methods.invoke("scale", List.of('a', 'b' - 'a' + 1)));
        IllegalArgumentException fromDouble = assertThrows(IllegalArgumentException.class,
                () -> methods.invoke("scale", List.of(3.0, 4)));
        assertEquals("argument type mismatch: method=scale, index=0, expected=long, actual=java.lang.Double",
                fromDouble.getMessage());
        IllegalArgumentException fromBoolean = assertThrows(IllegalArgumentException.class,
                () -> methods.invoke("scale", List.of(3L, true)));
        assertEquals("argument type mismatch: method=scale, index=1, expected=int, actual=java.lang.Boolean",
                fromBoolean.getMessage());
    }

    @Test
    void shouldRejectDuplicateNameAndBlankDispatch() throws Exception {
        var handle = MethodHandles.lookup().findVirtual(String.class, "length", MethodType.methodType(int.class));
        IllegalArgumentException dup = assertThrows(IllegalArgumentException.class,
                () -> WorkerMethods.builder().method("len", "ONE_TO_ALL", handle).method("len", "ONE_TO_ALL", handle));
        assertEquals("duplicate worker method: method=len", dup.getMessage());
        IllegalArgumentException blank = assertThrows(IllegalArgumentException.class,
                () -> WorkerMethods.builder().method("len", " ", handle));
        assertEquals("dispatch mode must not be blank: method=len, dispatchMode= ", blank.getMessage());
    }

    @Test
    void shouldRejectObjectWithoutWorkerMethods() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> WorkerMethods.annotated("plain", MethodHandles.lookup()));
        assertEquals("no @WorkerMethod methods: class=java.lang.String", e.getMessage());
    }
}
