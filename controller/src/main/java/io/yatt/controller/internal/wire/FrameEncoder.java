package io.yatt.controller.internal.wire;

import io.yatt.controller.internal.sbe.AbortEncoder;
import io.yatt.controller.internal.sbe.BooleanType;
import io.yatt.controller.internal.sbe.CancelEncoder;
import io.yatt.controller.internal.sbe.ErrorEncoder;
import io.yatt.controller.internal.sbe.HeartbeatEncoder;
import io.yatt.controller.internal.sbe.InvokeEncoder;
import io.yatt.controller.internal.sbe.InvokeInputEncoder;
import io.yatt.controller.internal.sbe.MessageHeaderEncoder;
import io.yatt.controller.internal.sbe.MetricReductionEncoder;
import io.yatt.controller.internal.sbe.PeerHeartbeatEncoder;
import io.yatt.controller.internal.sbe.ReduceOp;
import io.yatt.controller.internal.sbe.RegisterAckEncoder;
import io.yatt.controller.internal.sbe.RegisterEncoder;
import io.yatt.controller.internal.sbe.RegisterStatus;
import io.yatt.controller.internal.sbe.ResultEncoder;
import io.yatt.controller.internal.sbe.ShutdownEncoder;
import io.yatt.controller.internal.sbe.StepBarrierEncoder;
import org.agrona.DirectBuffer;
import org.agrona.ExpandableArrayBuffer;
import org.agrona.MutableDirectBuffer;

/**
 * Encodes {@link Message}s with SBE flyweights into one growable buffer that is reused for every frame: the frame is
 * {@code buffer()[0, length)} until the next encode. Confined to one thread (callers synchronise).
 */
public final class FrameEncoder {

    /**
     * The most buffer capacity an encoder, or a session's reassembly of fragmented frames, keeps between frames: twice
     * the 64 KiB inline limit, so that frames carrying inline payloads up to the limit keep reusing their buffers, while
     * a larger frame gets buffers that are dropped once it has been sent or handled, and a plane does not hold its
     * largest message for every peer forever.
     */
    public static final int RETAINED_CAPACITY_BYTES = 128 * 1024;
    /** Capacity of a fresh buffer. */
    static final int INITIAL_CAPACITY_BYTES = 1024;

    private final PayloadCodec payloads;
    private final ExpandableArrayBuffer buffer = new ExpandableArrayBuffer(INITIAL_CAPACITY_BYTES);
    private final ExpandableArrayBuffer payloadScratch = new ExpandableArrayBuffer(INITIAL_CAPACITY_BYTES);
    private final MessageHeaderEncoder header = new MessageHeaderEncoder();
    private final RegisterEncoder register = new RegisterEncoder();
    private final RegisterAckEncoder registerAck = new RegisterAckEncoder();
    private final HeartbeatEncoder heartbeat = new HeartbeatEncoder();
    private final InvokeEncoder invoke = new InvokeEncoder();
    private final InvokeInputEncoder invokeInput = new InvokeInputEncoder();
    private final ResultEncoder result = new ResultEncoder();
    private final ErrorEncoder error = new ErrorEncoder();
    private final CancelEncoder cancel = new CancelEncoder();
    private final AbortEncoder abort = new AbortEncoder();
    private final ShutdownEncoder shutdown = new ShutdownEncoder();
    private final StepBarrierEncoder stepBarrier = new StepBarrierEncoder();
    private final MetricReductionEncoder metricReduction = new MetricReductionEncoder();
    private final PeerHeartbeatEncoder peerHeartbeat = new PeerHeartbeatEncoder();
    private final Utf8Cache strings = new Utf8Cache();

    /** An encoder whose payloads use {@code payloads}. */
    public FrameEncoder(PayloadCodec payloads) {
        this.payloads = payloads;
    }

    /** The buffer the last frame was written to, from offset 0. */
    public DirectBuffer buffer() {
        return buffer;
    }

    /** The same buffer, writable (a proxy appends a MAC trailer to the frame). */
    MutableDirectBuffer mutableBuffer() {
        return buffer;
    }

    /**
     * Whether a buffer grew above {@link #RETAINED_CAPACITY_BYTES} for a frame: its owner then replaces the whole
     * encoder once the frame is sent (its SBE flyweights, group encoders included, all refer to the grown buffer).
     */
    public boolean oversized() {
        return buffer.capacity() > RETAINED_CAPACITY_BYTES || payloadScratch.capacity() > RETAINED_CAPACITY_BYTES;
    }

    /** Bytes of buffer capacity this encoder holds now (frame buffer and payload scratch). */
    int retainedBytes() {
        return buffer.capacity() + payloadScratch.capacity();
    }

    /**
     * Writes {@code message} at offset 0 of {@link #buffer()}.
     *
     * @return the frame's length in bytes
     * @throws IllegalArgumentException if a payload value cannot be encoded (see {@link PayloadCodec#encode})
     */
    public int encode(Message message) {
        int body = switch (message) {
            case Message.Register m -> {
                register.wrapAndApplyHeader(buffer, 0, header).workerId(m.workerId()).rank(m.rank()).pid(m.pid())
                        .replyStreamId(m.replyStreamId());
                RegisterEncoder.RolesEncoder roles = register.rolesCount(m.roles().size());
                for (String role : m.roles()) {
                    roles.next().role(role);
                }
                RegisterEncoder.MeshesEncoder meshes = register.meshesCount(m.meshes().size());
                for (Message.MeshRegistration mesh : m.meshes()) {
                    meshes.next().dpRank(mesh.dpRank()).dpSize(mesh.dpSize())
                            .collect(mesh.collect() ? BooleanType.TRUE : BooleanType.FALSE).meshName(mesh.meshName());
                }
                RegisterEncoder.MethodsEncoder methods = register.methodsCount(m.methods().size());
                for (Message.MethodEntry method : m.methods()) {
                    // an entry without a signature sends an empty return type (no type name is empty)
                    methods.next().methodName(method.name()).dispatchMode(method.dispatchMode())
                            .parameterTypes(method.signature().map(Message.MethodSignature::parameterTypesText)
                                    .orElse(""))
                            .returnType(method.signature().map(Message.MethodSignature::returnType).orElse(""));
                }
                register.host(m.host()).replyChannel(m.replyChannel()).putMac(m.mac(), 0, m.mac().length);
                yield register.encodedLength();
            }
            case Message.RegisterAck m -> {
                registerAck.wrapAndApplyHeader(buffer, 0, header).controllerId(m.controllerId())
                        .workerId(m.workerId()).status(switch (m.status()) {
                            case ACCEPTED -> RegisterStatus.ACCEPTED;
                            case CHALLENGE -> RegisterStatus.CHALLENGE;
                            case REFUSED -> RegisterStatus.REFUSED;
                        }).heartbeatIntervalNs(m.heartbeatIntervalNs()).putNonce(m.nonce(), 0, m.nonce().length)
                        .reason(m.reason());
                yield registerAck.encodedLength();
            }
            case Message.Heartbeat m -> {
                heartbeat.wrapAndApplyHeader(buffer, 0, header).workerId(m.workerId()).timestampNs(m.timestampNs())
                        .inFlightCalls(m.inFlightCalls() < 0 ? HeartbeatEncoder.inFlightCallsNullValue()
                                : m.inFlightCalls());
                yield heartbeat.encodedLength();
            }
            case Message.Invoke m -> {
                int payloadLength = payloads.encode(m.args(), payloadScratch, 0);
                invoke.wrapAndApplyHeader(buffer, 0, header).correlationId(m.correlationId())
                        .controllerId(m.controllerId()).step(m.step())
                        .awaitInput(m.awaitInput() ? BooleanType.TRUE : BooleanType.FALSE);
                byte[] group = strings.encode(m.group());
                byte[] method = strings.encode(m.method());
                byte[] mode = strings.encode(m.dispatchMode());
                invoke.putGroup(group, 0, group.length).putMethod(method, 0, method.length)
                        .putDispatchMode(mode, 0, mode.length).putPayload(payloadScratch, 0, payloadLength);
                yield invoke.encodedLength();
            }
            case Message.InvokeInput m -> {
                int payloadLength = payloads.encode(m.args(), payloadScratch, 0);
                invokeInput.wrapAndApplyHeader(buffer, 0, header).correlationId(m.correlationId())
                        .controllerId(m.controllerId()).skip(m.skip() ? BooleanType.TRUE : BooleanType.FALSE)
                        .putPayload(payloadScratch, 0, payloadLength);
                yield invokeInput.encodedLength();
            }
            case Message.Result m -> {
                int payloadLength = payloads.encode(m.value(), payloadScratch, 0);
                result.wrapAndApplyHeader(buffer, 0, header).correlationId(m.correlationId()).workerId(m.workerId())
                        .rank(m.rank()).putPayload(payloadScratch, 0, payloadLength);
                yield result.encodedLength();
            }
            case Message.Error m -> {
                error.wrapAndApplyHeader(buffer, 0, header).correlationId(m.correlationId()).workerId(m.workerId())
                        .rank(m.rank()).errorType(m.type()).errorMessage(m.message());
                yield error.encodedLength();
            }
            case Message.Cancel m -> {
                cancel.wrapAndApplyHeader(buffer, 0, header).correlationId(m.correlationId())
                        .controllerId(m.controllerId());
                yield cancel.encodedLength();
            }
            case Message.Abort m -> {
                abort.wrapAndApplyHeader(buffer, 0, header).controllerId(m.controllerId()).reason(m.reason());
                yield abort.encodedLength();
            }
            case Message.Shutdown m -> {
                shutdown.wrapAndApplyHeader(buffer, 0, header).controllerId(m.controllerId()).reason(m.reason());
                yield shutdown.encodedLength();
            }
            case Message.StepBarrier m -> {
                stepBarrier.wrapAndApplyHeader(buffer, 0, header).controllerId(m.controllerId())
                        .controllerIndex(m.controllerIndex()).controllerCount(m.controllerCount()).step(m.step());
                yield stepBarrier.encodedLength();
            }
            case Message.MetricReduction m -> {
                metricReduction.wrapAndApplyHeader(buffer, 0, header).controllerId(m.controllerId())
                        .controllerIndex(m.controllerIndex()).controllerCount(m.controllerCount()).step(m.step())
                        .op(switch (m.op()) {
                            case SUM -> ReduceOp.SUM;
                            case MIN -> ReduceOp.MIN;
                            case MAX -> ReduceOp.MAX;
                            case MEAN -> ReduceOp.MEAN;
                        });
                MetricReductionEncoder.MetricsEncoder metrics = metricReduction.metricsCount(m.metrics().size());
                for (Message.Metric metric : m.metrics()) {
                    metrics.next().value(metric.value()).metricName(metric.name());
                }
                yield metricReduction.encodedLength();
            }
            case Message.PeerHeartbeat m -> {
                peerHeartbeat.wrapAndApplyHeader(buffer, 0, header).controllerId(m.controllerId())
                        .controllerIndex(m.controllerIndex()).controllerCount(m.controllerCount())
                        .timestampNs(m.timestampNs()).leaving(m.leaving() ? BooleanType.TRUE : BooleanType.FALSE);
                yield peerHeartbeat.encodedLength();
            }
        };
        return MessageHeaderEncoder.ENCODED_LENGTH + body;
    }
}
