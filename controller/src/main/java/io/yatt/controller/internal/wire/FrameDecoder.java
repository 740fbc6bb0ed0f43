package io.yatt.controller.internal.wire;

import io.yatt.controller.internal.sbe.AbortDecoder;
import io.yatt.controller.internal.sbe.CancelDecoder;
import io.yatt.controller.internal.sbe.ErrorDecoder;
import io.yatt.controller.internal.sbe.HeartbeatDecoder;
import io.yatt.controller.internal.sbe.InvokeDecoder;
import io.yatt.controller.internal.sbe.InvokeInputDecoder;
import io.yatt.controller.internal.sbe.MessageHeaderDecoder;
import io.yatt.controller.internal.sbe.MetricReductionDecoder;
import io.yatt.controller.internal.sbe.PeerHeartbeatDecoder;
import io.yatt.controller.internal.sbe.RegisterAckDecoder;
import io.yatt.controller.internal.sbe.RegisterDecoder;
import io.yatt.controller.internal.sbe.ResultDecoder;
import io.yatt.controller.internal.sbe.ShutdownDecoder;
import io.yatt.controller.internal.sbe.StepBarrierDecoder;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.agrona.DirectBuffer;

/**
 * Decodes one frame into a {@link Message} with SBE flyweights re-pointed at the receive buffer, after
 * {@link FrameValidator} accepted its structure; then checks the values (enum codes, ranks, mesh ranges, method
 * signatures, the payload).
 * Confined to one thread (the flyweights are reused).
 */
public final class FrameDecoder {

    private static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;
    /** Length header of the Invoke's group, method and dispatch-mode fields (the same for all three). */
    private static final int NAME_HEADER_BYTES = InvokeDecoder.groupHeaderLength();

    private final PayloadCodec payloads;
    private final MessageHeaderDecoder header = new MessageHeaderDecoder();
    private final RegisterDecoder register = new RegisterDecoder();
    private final RegisterAckDecoder registerAck = new RegisterAckDecoder();
    private final HeartbeatDecoder heartbeat = new HeartbeatDecoder();
    private final InvokeDecoder invoke = new InvokeDecoder();
    private final InvokeInputDecoder invokeInput = new InvokeInputDecoder();
    private final ResultDecoder result = new ResultDecoder();
    private final ErrorDecoder error = new ErrorDecoder();
    private final CancelDecoder cancel = new CancelDecoder();
    private final AbortDecoder abort = new AbortDecoder();
    private final ShutdownDecoder shutdown = new ShutdownDecoder();
    private final StepBarrierDecoder stepBarrier = new StepBarrierDecoder();
    private final MetricReductionDecoder metricReduction = new MetricReductionDecoder();
    private final PeerHeartbeatDecoder peerHeartbeat = new PeerHeartbeatDecoder();
    private final Utf8Cache strings = new Utf8Cache();

    /** A decoder whose payloads use {@code payloads}. */
    public FrameDecoder(PayloadCodec payloads) {
        this.payloads = payloads;
    }

    /**
     * The message in {@code [offset, offset + length)}.
     *
     * @throws MalformedFrameException if the frame's structure or a value is not valid
     */
    public Message decode(DirectBuffer buffer, int offset, int length) throws MalformedFrameException {
        int templateId = FrameValidator.validate(buffer, offset, length);
        if (templateId == FrameValidator.MALFORMED) {
            throw new MalformedFrameException("frame structure rejected: length=" + length);
        }
        header.wrap(buffer, offset);
        int body = offset + MessageHeaderDecoder.ENCODED_LENGTH;
        int blockLength = header.blockLength();
        int version = header.version();
        return switch (templateId) {
            case RegisterDecoder.TEMPLATE_ID -> register(buffer, body, blockLength, version);
            case RegisterAckDecoder.TEMPLATE_ID -> registerAck(buffer, body, blockLength, version);
            case HeartbeatDecoder.TEMPLATE_ID -> {
                heartbeat.wrap(buffer, body, blockLength, version);
                int inFlight = heartbeat.inFlightCalls();
                if (inFlight == HeartbeatDecoder.inFlightCallsNullValue()) {
                    inFlight = Message.Heartbeat.IN_FLIGHT_UNKNOWN;
                } else if (inFlight < 0) {
                    throw new MalformedFrameException("negative in-flight count: inFlightCalls=" + inFlight);
                }
                yield new Message.Heartbeat(nonNegative("workerId", heartbeat.workerId()), heartbeat.timestampNs(),
                        inFlight);
            }
            case InvokeDecoder.TEMPLATE_ID -> {
                invoke.wrap(buffer, body, blockLength, version);
                long correlationId = invoke.correlationId();
                long controllerId = invoke.controllerId();
                long step = invoke.step();
                boolean awaitInput = version >= InvokeDecoder.awaitInputSinceVersion() && bool(invoke.awaitInputRaw());
                String group = invokeName(buffer);
                String method = invokeName(buffer);
                String mode = invokeName(buffer);
                List<Object> args = argumentList(payload(buffer, invoke.limit()));
                if (awaitInput && !args.isEmpty()) {
                    throw new MalformedFrameException("invoke awaiting input carries arguments: count=" + args.size());
                }
                yield new Message.Invoke(correlationId, controllerId, step, group, method, mode, awaitInput, args);
            }
            case InvokeInputDecoder.TEMPLATE_ID -> {
                invokeInput.wrap(buffer, body, blockLength, version);
                long correlationId = invokeInput.correlationId();
                long controllerId = invokeInput.controllerId();
                boolean skip = bool(invokeInput.skipRaw());
                yield new Message.InvokeInput(correlationId, controllerId, skip,
                        argumentList(payload(buffer, invokeInput.limit())));
            }
            case ResultDecoder.TEMPLATE_ID -> {
                result.wrap(buffer, body, blockLength, version);
                long correlationId = result.correlationId();
                int workerId = nonNegative("workerId", result.workerId());
                int rank = nonNegative("rank", result.rank());
                yield new Message.Result(correlationId, workerId, rank, payload(buffer, result.limit()));
            }
            case ErrorDecoder.TEMPLATE_ID -> {
                error.wrap(buffer, body, blockLength, version);
                yield new Message.Error(error.correlationId(), nonNegative("workerId", error.workerId()),
                        nonNegative("rank", error.rank()), error.errorType(), error.errorMessage());
            }
            case CancelDecoder.TEMPLATE_ID -> {
                cancel.wrap(buffer, body, blockLength, version);
                yield new Message.Cancel(cancel.correlationId(), cancel.controllerId());
            }
            case AbortDecoder.TEMPLATE_ID -> {
                abort.wrap(buffer, body, blockLength, version);
                yield new Message.Abort(abort.controllerId(), abort.reason());
            }
            case ShutdownDecoder.TEMPLATE_ID -> {
                shutdown.wrap(buffer, body, blockLength, version);
                yield new Message.Shutdown(shutdown.controllerId(), shutdown.reason());
            }
            case StepBarrierDecoder.TEMPLATE_ID -> {
                stepBarrier.wrap(buffer, body, blockLength, version);
                int[] indexCount = controllerIndex(stepBarrier.controllerIndex(), stepBarrier.controllerCount());
                yield new Message.StepBarrier(stepBarrier.controllerId(), indexCount[0], indexCount[1],
                        stepBarrier.step());
            }
            case MetricReductionDecoder.TEMPLATE_ID -> metricReduction(buffer, body, blockLength, version);
            case PeerHeartbeatDecoder.TEMPLATE_ID -> {
                peerHeartbeat.wrap(buffer, body, blockLength, version);
                int[] indexCount = controllerIndex(peerHeartbeat.controllerIndex(), peerHeartbeat.controllerCount());
                yield new Message.PeerHeartbeat(peerHeartbeat.controllerId(), indexCount[0], indexCount[1],
                        peerHeartbeat.timestampNs(), bool(peerHeartbeat.leavingRaw()));
            }
            default -> throw new MalformedFrameException("unknown template: templateId=" + templateId);
        };
    }

    private Message.Register register(DirectBuffer buffer, int body, int blockLength, int version)
            throws MalformedFrameException {
        register.wrap(buffer, body, blockLength, version);
        int workerId = nonNegative("workerId", register.workerId());
        int rank = nonNegative("rank", register.rank());
        long pid = register.pid();
        int replyStreamId = register.replyStreamId();
        List<String> roles = new ArrayList<>();
        for (RegisterDecoder.RolesDecoder r : register.roles()) {
            roles.add(r.role());
        }
        List<Message.MeshRegistration> meshes = new ArrayList<>();
        for (RegisterDecoder.MeshesDecoder m : register.meshes()) {
            int dpRank = m.dpRank();
            int dpSize = m.dpSize();
            short collect = m.collectRaw();
            String name = m.meshName();
            if (dpSize < 1 || dpRank < 0 || dpRank >= dpSize) {
                throw new MalformedFrameException("mesh DP rank out of range: dpRank=" + dpRank + ", dpSize="
                        + dpSize);
            }
            meshes.add(new Message.MeshRegistration(name, dpRank, dpSize, bool(collect)));
        }
        List<Message.MethodEntry> methods = new ArrayList<>();
        for (RegisterDecoder.MethodsDecoder m : register.methods()) {
            String name = m.methodName();
            String mode = m.dispatchMode();
            // both read "" before version 4 (no signature); from version 4 an empty return type says none was sent
            String parameterTypes = m.parameterTypes();
            String returnType = m.returnType();
            methods.add(new Message.MethodEntry(name, mode, signature(name, parameterTypes, returnType)));
        }
        String host = register.host();
        String replyChannel = register.replyChannel();
        byte[] mac = new byte[register.macLength()];
        register.getMac(mac, 0, mac.length);
        return new Message.Register(workerId, rank, pid, replyStreamId, roles, meshes, methods, host, replyChannel,
                mac);
    }

    /**
     * The Invoke's next name field (group, method, dispatch mode, in schema order: each a u32 length and UTF-8 bytes,
     * which the validator checked against the frame) through the name cache; moves the decoder past it.
     */
    private String invokeName(DirectBuffer buffer) {
        int at = invoke.limit();
        int length = buffer.getInt(at, LE);
        invoke.limit(at + NAME_HEADER_BYTES + length);
        return strings.decode(buffer, at + NAME_HEADER_BYTES, length);
    }

    private static Optional<Message.MethodSignature> signature(String method, String parameterTypes,
                                                              String returnType) throws MalformedFrameException {
        if (returnType.isEmpty() && parameterTypes.isEmpty()) {
            return Optional.empty();
        }
        try {
            return Optional.of(Message.MethodSignature.parse(parameterTypes, returnType));
        } catch (IllegalArgumentException e) {
            throw new MalformedFrameException("malformed method signature: method=" + method + ", parameterTypes="
                    + parameterTypes + ", returnType=" + returnType + ", reason=" + e.getMessage());
        }
    }

    private Message.RegisterAck registerAck(DirectBuffer buffer, int body, int blockLength, int version)
            throws MalformedFrameException {
        registerAck.wrap(buffer, body, blockLength, version);
        long controllerId = registerAck.controllerId();
        int workerId = nonNegative("workerId", registerAck.workerId());
        short status = registerAck.statusRaw();
        Message.AckStatus ackStatus = switch (status) {
            case 0 -> Message.AckStatus.ACCEPTED;
            case 1 -> Message.AckStatus.CHALLENGE;
            case 2 -> Message.AckStatus.REFUSED;
            default -> throw new MalformedFrameException("unknown register status: status=" + status);
        };
        long intervalNs = registerAck.heartbeatIntervalNs();
        if (intervalNs <= 0) {
            throw new MalformedFrameException("heartbeat interval must be positive: heartbeatIntervalNs="
                    + intervalNs);
        }
        byte[] nonce = new byte[registerAck.nonceLength()];
        registerAck.getNonce(nonce, 0, nonce.length);
        return new Message.RegisterAck(controllerId, workerId, ackStatus, intervalNs, nonce, registerAck.reason());
    }

    private Message.MetricReduction metricReduction(DirectBuffer buffer, int body, int blockLength, int version)
            throws MalformedFrameException {
        MetricReductionDecoder d = metricReduction.wrap(buffer, body, blockLength, version);
        long controllerId = d.controllerId();
        int[] indexCount = controllerIndex(d.controllerIndex(), d.controllerCount());
        long step = d.step();
        short opCode = d.opRaw();
        Message.ReduceOp op = switch (opCode) {
            case 0 -> Message.ReduceOp.SUM;
            case 1 -> Message.ReduceOp.MIN;
            case 2 -> Message.ReduceOp.MAX;
            case 3 -> Message.ReduceOp.MEAN;
            default -> throw new MalformedFrameException("unknown reduce op: op=" + opCode);
        };
        List<Message.Metric> metrics = new ArrayList<>();
        for (MetricReductionDecoder.MetricsDecoder m : d.metrics()) {
            double value = m.value();
            metrics.add(new Message.Metric(m.metricName(), value));
        }
        return new Message.MetricReduction(controllerId, indexCount[0], indexCount[1], step, op, metrics);
    }

    private Object payload(DirectBuffer buffer, int lengthPosition) throws MalformedFrameException {
        int length = (int) (buffer.getInt(lengthPosition, LE) & 0xFFFF_FFFFL);
        return payloads.decode(buffer, lengthPosition + 4, length);
    }

    @SuppressWarnings("unchecked")
    private static List<Object> argumentList(Object args) throws MalformedFrameException {
        if (!(args instanceof List<?> list)) {
            throw new MalformedFrameException("invoke arguments are not a list: class="
                    + (args == null ? "null" : args.getClass().getName()));
        }
        return (List<Object>) list;
    }

    private static int[] controllerIndex(int index, int count) throws MalformedFrameException {
        if (count < 1 || index < 0 || index >= count) {
            throw new MalformedFrameException("controller index out of range: controllerIndex=" + index
                    + ", controllerCount=" + count);
        }
        return new int[] {index, count};
    }

    private static boolean bool(short raw) throws MalformedFrameException {
        return switch (raw) {
            case 0 -> false;
            case 1 -> true;
            default -> throw new MalformedFrameException("not a boolean: value=" + raw);
        };
    }

    private static int nonNegative(String name, int value) throws MalformedFrameException {
        if (value < 0) {
            throw new MalformedFrameException("negative " + name + ": " + name + "=" + value);
        }
        return value;
    }
}
