package io.yatt.controller.internal.wire;

import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import org.agrona.concurrent.UnsafeBuffer;

/** Valid messages of every type, for round trips and for the frames the property tests corrupt. */
final class Frames {

    private Frames() {
    }

    static byte[] encode(Message message) {
        FrameEncoder encoder = new FrameEncoder(PayloadCodec.builtIn());
        int length = encoder.encode(message);
        byte[] frame = new byte[length];
        encoder.buffer().getBytes(0, frame);
        return frame;
    }

    static Message decode(byte[] frame) throws MalformedFrameException {
        return new FrameDecoder(PayloadCodec.builtIn()).decode(new UnsafeBuffer(frame), 0, frame.length);
    }

    static List<Message> samples() {
        return List.of(
                new Message.Register(7, 3, 4242L, 65543, List.of("actor", "ref"),
                        List.of(new Message.MeshRegistration("actor-dp", 1, 2, true),
                                new Message.MeshRegistration("rollout", 0, 4, false)),
                        List.of(new Message.MethodEntry("generate", "DP_COMPUTE_PROTO", Optional.of(
                                        new Message.MethodSignature(List.of("io.yatt.controller.DataBatch", "int[]"),
                                                "io.yatt.controller.DataBatch"))),
                                new Message.MethodEntry("ping", "ONE_TO_ALL"),
                                new Message.MethodEntry("stop", "RANK_ZERO",
                                        Optional.of(new Message.MethodSignature(List.of(), "void")))),
                        "node-1", "aeron:ipc", new byte[] {1, 2, 3}),
                new Message.RegisterAck(99L, 7, Message.AckStatus.CHALLENGE, 200_000_000L, new byte[] {9, 8, 7, 6},
                        ""),
                new Message.Heartbeat(7, 123_456_789L, 2),
                new Message.Invoke(5L, 99L, 11L, "actor", "generate", "ONE_TO_ALL", false,
                        Arrays.asList(1, "two", null, List.of(3L, 4.5), Map.of("k", new float[] {1f}))),
                new Message.Invoke(6L, 99L, 11L, "actor", "train", "DP_COMPUTE", true, List.of()),
                new Message.InvokeInput(6L, 99L, false, List.of("batch", 7)),
                new Message.InvokeInput(6L, 99L, true, List.of()),
                new Message.Result(5L, 7, 3, Map.of("loss", 0.25)),
                new Message.Error(5L, 7, 3, "java.lang.IllegalStateException", "boom"),
                new Message.Cancel(5L, 99L),
                new Message.Abort(99L, "peer lost"),
                new Message.Shutdown(99L, "done"),
                new Message.StepBarrier(99L, 1, 4, 17L),
                new Message.PeerHeartbeat(99L, 3, 4, 123_456_789L, false),
                new Message.PeerHeartbeat(99L, 0, 2, 5L, true),
                new Message.MetricReduction(99L, 2, 4, 17L, Message.ReduceOp.MEAN,
                        List.of(new Message.Metric("reward", 0.5), new Message.Metric("kl", 0.01))));
    }

    /** Method entries with and without signatures, over a few type names of each kind. */
    static Arbitrary<List<Message.MethodEntry>> methodEntries() {
        Arbitrary<String> type = Arbitraries.of("int", "long", "int[]", "java.lang.String", "java.util.List",
                "io.yatt.controller.DataBatch", "java.util.Map$Entry", "float[][]");
        Arbitrary<Optional<Message.MethodSignature>> signature = Combinators.combine(type.list().ofMaxSize(4),
                Arbitraries.oneOf(type, Arbitraries.just("void"))).as(Message.MethodSignature::new)
                .optional(0.8);
        return Combinators.combine(Arbitraries.strings().alpha().ofMinLength(1).ofMaxLength(8),
                Arbitraries.of("ONE_TO_ALL", "RANK_ZERO", "MESH(dp)"), signature).as(Message.MethodEntry::new)
                .list().ofMaxSize(3);
    }

    /** Encoded Registers whose methods all carry signatures (at least one method). */
    static Arbitrary<byte[]> registersWithSignatures() {
        return methodEntries().filter(m -> !m.isEmpty() && m.stream().allMatch(e -> e.signature().isPresent()))
                .map(methods -> encode(new Message.Register(1, 0, 2L, 65537, List.of("actor"), List.of(), methods,
                        "host", "aeron:ipc", new byte[] {5})));
    }

    static Arbitrary<byte[]> validFrames() {
        Arbitrary<String> text = Arbitraries.strings().ofMaxLength(12);
        Arbitrary<Integer> id = Arbitraries.integers().between(0, 1 << 20);
        Arbitrary<Long> anyLong = Arbitraries.longs();
        Arbitrary<Message> register = Combinators.combine(id, id, anyLong, text.list().ofMaxSize(3), text,
                Arbitraries.bytes().array(byte[].class).ofMaxSize(40), methodEntries()).as(
                        (w, r, pid, roles, host, mac, methods) -> new Message.Register(w, r, pid, 65536 + w, roles,
                                List.of(new Message.MeshRegistration(host, 0, 1, true)), methods, host, "aeron:ipc",
                                mac));
        Arbitrary<Message> heartbeat = Combinators.combine(id, anyLong, Arbitraries.integers().between(0, 100))
                .as(Message.Heartbeat::new);
        Arbitrary<Message> invoke = Combinators.combine(anyLong, anyLong, anyLong, text, text,
                Arbitraries.integers().list().ofMaxSize(5)).as((c, ctl, step, group, method, args) ->
                new Message.Invoke(c, ctl, step, group, method, "ONE_TO_ALL", false, List.<Object>copyOf(args)));
        Arbitrary<Message> result = Combinators.combine(anyLong, id, id, text)
                .as((c, w, r, v) -> new Message.Result(c, w, r, v));
        Arbitrary<Message> error = Combinators.combine(anyLong, id, id, text, text).as(Message.Error::new);
        Arbitrary<Message> fixed = Arbitraries.of(samples());
        return Arbitraries.oneOf(register, heartbeat, invoke, result, error, fixed).map(Frames::encode);
    }
}
