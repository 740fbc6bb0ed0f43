package io.yatt.controller;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.lang.invoke.MethodHandles;
import java.util.List;
import org.junit.jupiter.api.Test;

class WorkerContextTest {

    private static Worker.Context valid() {
        return new Worker.Context().workerId(1).rank(0).roles(List.of("actor"))
                .methods(WorkerMethods.annotated(new TestWorkers.Methods(0), MethodHandles.lookup()))
                .controller("aeron:ipc");
    }

    private static String rejection(Worker.Context ctx) {
        return assertThrows(IllegalArgumentException.class, ctx::conclude).getMessage();
    }

    @Test
    void shouldAcceptCompleteContextAndFillHostAndDirectory() {
        Worker.Context ctx = valid().conclude();
        assertEquals(1, ctx.workerId());
        assertEquals(List.of("actor"), ctx.roles());
    }

    @Test
    void shouldAcceptReplyHostBeyondLoopbackWithSecretAndLoopbackWithout() {
        assertEquals(1, valid().replyHost("10.1.2.3").sharedSecret(new byte[16]).conclude().workerId());
        assertEquals(1, valid().replyHost("127.0.0.1").conclude().workerId());
    }

    @Test
    void shouldNameEachInvalidSetting() {
        assertEquals("worker id out of range: workerId=-1, expected=0..2147418111", rejection(valid().workerId(-1)));
        assertEquals("worker rank must be non-negative: rank=-2", rejection(valid().rank(-2)));
        assertEquals("a worker needs at least one role: workerId=1", rejection(valid().roles(List.of())));
        assertEquals("a worker needs a method table: workerId=1", rejection(valid().methods(null)));
        assertEquals("controller channel must be aeron:ipc or aeron:udp?endpoint=...: controller=tcp://x:1",
                rejection(valid().controller("tcp://x:1")));
        assertEquals("timeouts must be positive: registrationTimeoutNs=0, sendTimeoutNs=5000000000",
                rejection(valid().registrationTimeoutNs(0)));
        assertEquals("shared secret too short: bytes=4, min=16", rejection(valid().sharedSecret(new byte[4])));
        assertEquals("a reply host beyond loopback requires a shared secret (it serves references and control"
                + " replies on udp): replyHost=10.1.2.3, expected=a loopback address or sharedSecret(...)",
                rejection(valid().replyHost("10.1.2.3")));
    }

    @Test
    void shouldRejectDuplicatePayloadTypeIds() {
        PayloadType<int[]> a = new PayloadType<>(70, int[].class, v -> v.length, w -> new int[0]);
        PayloadType<long[]> b = new PayloadType<>(70, long[].class, v -> v.length, w -> new long[0]);
        assertEquals("duplicate payload type id: typeId=70, javaTypes=[I,[J",
                rejection(valid().payloadTypes(List.of(a, b))));
    }

    @Test
    void shouldRejectUdpPortOutOfRangeAndBadJobName() {
        assertEquals("udp port out of range: port=70000, expected=0..65535", assertThrows(
                IllegalArgumentException.class, () -> new ControlPlane.Context().udp("127.0.0.1", 70000).conclude())
                .getMessage());
        assertEquals("job name must be letters, digits, '_', '.' or '-': jobName=a/b", assertThrows(
                IllegalArgumentException.class, () -> new ControlPlane.Context().jobName("a/b").conclude())
                .getMessage());
    }

    @Test
    void shouldResolveRegisteredCustomModesThenBuiltInOnesAndNameUnknownOnes() {
        Dispatch custom = new Dispatch() {
            @Override
            public String name() {
                return "FIRST_ONLY";
            }

            @Override
            public List<Object[]> dispatch(Object[] args, GroupTopology topology) {
                return List.of();
            }

            @Override
            public Object collect(List<Object> results, GroupTopology topology) {
                return null;
            }
        };
        ControlPlane.Context ctx = new ControlPlane.Context().dispatch(custom);
        assertEquals(custom, ctx.resolveDispatch("FIRST_ONLY"));
        assertEquals(DispatchModes.DP_COMPUTE_PROTO, ctx.resolveDispatch("DP_COMPUTE_PROTO"));
        assertEquals(DispatchModes.mesh("critic"), ctx.resolveDispatch("MESH(critic)"));
        assertEquals("unknown dispatch mode: name=LAST_ONLY, expected one of [ONE_TO_ALL, ALL_TO_ALL, DP_COMPUTE,"
                + " DP_COMPUTE_PROTO, DP_COMPUTE_METRIC, RANK_ZERO, MESH(<mesh name>)] or a registered mode"
                + " [FIRST_ONLY]", assertThrows(IllegalArgumentException.class,
                        () -> ctx.resolveDispatch("LAST_ONLY")).getMessage());
        assertEquals("dispatch mode registered twice: name=FIRST_ONLY",
                assertThrows(IllegalArgumentException.class, () -> ctx.dispatch(custom)).getMessage());
        assertEquals("dispatch mode name is built in: name=RANK_ZERO", assertThrows(IllegalArgumentException.class,
                () -> new ControlPlane.Context().dispatch(DispatchModes.RANK_ZERO)).getMessage());
    }
}
