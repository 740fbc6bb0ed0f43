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
import io.yatt.controller.internal.sbe.ReferenceAnswerDecoder;
import io.yatt.controller.internal.sbe.ReferenceChunkDecoder;
import io.yatt.controller.internal.sbe.ReferenceRequestDecoder;
import io.yatt.controller.internal.sbe.RegisterAckDecoder;
import io.yatt.controller.internal.sbe.RegisterDecoder;
import io.yatt.controller.internal.sbe.ResultDecoder;
import io.yatt.controller.internal.sbe.ShutdownDecoder;
import io.yatt.controller.internal.sbe.StepBarrierDecoder;
import java.nio.ByteOrder;
import org.agrona.DirectBuffer;

/**
 * Checks a frame's structure before any decoder reads it: header length, schema id, version range, a known template
 * id that exists in that version, a block length no shorter than the acting version needs, and every group header,
 * group entry and variable-length field the acting version has (a Register method entry has two more from version 4)
 * inside the frame, which they must fill exactly. Reads only inside {@code [offset, offset + length)}, allocates
 * nothing, throws nothing. Stateless.
 */
public final class FrameValidator {

    /** Returned by {@link #validate} for a frame that must be dropped. */
    public static final int MALFORMED = -1;
    /** Template id of Register (left to the controller agent's thread). */
    public static final int REGISTER_TEMPLATE_ID = RegisterDecoder.TEMPLATE_ID;
    /** Template id of StepBarrier (a peer controller's frame). */
    public static final int STEP_BARRIER_TEMPLATE_ID = StepBarrierDecoder.TEMPLATE_ID;
    /** Template id of MetricReduction (a peer controller's frame). */
    public static final int METRIC_REDUCTION_TEMPLATE_ID = MetricReductionDecoder.TEMPLATE_ID;
    /** Template id of PeerHeartbeat (a peer controller's frame). */
    public static final int PEER_HEARTBEAT_TEMPLATE_ID = PeerHeartbeatDecoder.TEMPLATE_ID;
    /** Template ids of the reference data plane (its own streams; never on the control stream). */
    public static final int REFERENCE_REQUEST_TEMPLATE_ID = ReferenceRequestDecoder.TEMPLATE_ID;
    /** Template id of a chunk of a reference fetch. */
    public static final int REFERENCE_CHUNK_TEMPLATE_ID = ReferenceChunkDecoder.TEMPLATE_ID;
    /** Template id of an owner's answer to a reference request (acknowledgement or failure). */
    public static final int REFERENCE_ANSWER_TEMPLATE_ID = ReferenceAnswerDecoder.TEMPLATE_ID;
    /** Oldest schema version still read. */
    public static final int MIN_VERSION = 1;
    /** Largest variable-length field accepted, in bytes. */
    public static final long MAX_VAR_BYTES = 1L << 30;

    private static final int HEADER_BYTES = MessageHeaderDecoder.ENCODED_LENGTH;
    private static final int GROUP_HEADER_BYTES = 4;
    private static final int VAR_HEADER_BYTES = 4;
    private static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;

    /** A repeating group: its entries' block length and var fields, {@code addedVars} more from {@code addedSince}. */
    private record Group(int entryBlockLength, int varsPerEntry, int addedSince, int addedVars) {

        Group(int entryBlockLength, int varsPerEntry) {
            this(entryBlockLength, varsPerEntry, Integer.MAX_VALUE, 0);
        }

        int vars(int version) {
            return version >= addedSince ? varsPerEntry + addedVars : varsPerEntry;
        }
    }

    /** A message's layout: its block length in version 1 and from version 2, its groups and var fields. */
    private record Shape(int sinceVersion, int blockLengthV1, int blockLength, Group[] groups, int vars) {

        int minBlockLength(int version) {
            return version >= 2 ? blockLength : blockLengthV1;
        }
    }

    private static final Shape[] SHAPES = new Shape[ReferenceAnswerDecoder.TEMPLATE_ID + 1];

    static {
        shape(RegisterDecoder.TEMPLATE_ID, RegisterDecoder.BLOCK_LENGTH, 3,
                new Group(RegisterDecoder.RolesDecoder.sbeBlockLength(), 1),
                new Group(RegisterDecoder.MeshesDecoder.sbeBlockLength(), 1),
                new Group(RegisterDecoder.MethodsDecoder.sbeBlockLength(), 2,
                        RegisterDecoder.MethodsDecoder.parameterTypesSinceVersion(), 2));
        shape(RegisterAckDecoder.TEMPLATE_ID, RegisterAckDecoder.BLOCK_LENGTH, 2);
        SHAPES[HeartbeatDecoder.TEMPLATE_ID] = new Shape(1, HeartbeatDecoder.inFlightCallsEncodingOffset(),
                HeartbeatDecoder.BLOCK_LENGTH, new Group[0], 0);
        SHAPES[InvokeDecoder.TEMPLATE_ID] = new Shape(1, InvokeDecoder.awaitInputEncodingOffset(),
                InvokeDecoder.BLOCK_LENGTH, new Group[0], 4);
        SHAPES[InvokeInputDecoder.TEMPLATE_ID] = new Shape(2, InvokeInputDecoder.BLOCK_LENGTH,
                InvokeInputDecoder.BLOCK_LENGTH, new Group[0], 1);
        shape(ResultDecoder.TEMPLATE_ID, ResultDecoder.BLOCK_LENGTH, 1);
        shape(ErrorDecoder.TEMPLATE_ID, ErrorDecoder.BLOCK_LENGTH, 2);
        SHAPES[ReferenceRequestDecoder.TEMPLATE_ID] = new Shape(3, ReferenceRequestDecoder.BLOCK_LENGTH,
                ReferenceRequestDecoder.BLOCK_LENGTH, new Group[0], 1);
        SHAPES[ReferenceChunkDecoder.TEMPLATE_ID] = new Shape(3, ReferenceChunkDecoder.BLOCK_LENGTH,
                ReferenceChunkDecoder.BLOCK_LENGTH, new Group[0], 1);
        SHAPES[ReferenceAnswerDecoder.TEMPLATE_ID] = new Shape(3, ReferenceAnswerDecoder.BLOCK_LENGTH,
                ReferenceAnswerDecoder.BLOCK_LENGTH, new Group[0], 1);
        shape(CancelDecoder.TEMPLATE_ID, CancelDecoder.BLOCK_LENGTH, 0);
        shape(AbortDecoder.TEMPLATE_ID, AbortDecoder.BLOCK_LENGTH, 1);
        shape(ShutdownDecoder.TEMPLATE_ID, ShutdownDecoder.BLOCK_LENGTH, 1);
        shape(StepBarrierDecoder.TEMPLATE_ID, StepBarrierDecoder.BLOCK_LENGTH, 0);
        shape(MetricReductionDecoder.TEMPLATE_ID, MetricReductionDecoder.BLOCK_LENGTH, 0,
                new Group(MetricReductionDecoder.MetricsDecoder.sbeBlockLength(), 1));
        SHAPES[PeerHeartbeatDecoder.TEMPLATE_ID] = new Shape(3, PeerHeartbeatDecoder.BLOCK_LENGTH,
                PeerHeartbeatDecoder.BLOCK_LENGTH, new Group[0], 0);
    }

    /** Whether {@code templateId} is a frame between the controllers of a mesh (sealed under the peer key). */
    public static boolean peerFrame(int templateId) {
        return templateId == STEP_BARRIER_TEMPLATE_ID || templateId == METRIC_REDUCTION_TEMPLATE_ID
                || templateId == PEER_HEARTBEAT_TEMPLATE_ID;
    }

    private static void shape(int templateId, int blockLength, int vars, Group... groups) {
        SHAPES[templateId] = new Shape(1, blockLength, blockLength, groups, vars);
    }

    private FrameValidator() {
    }

    /**
     * The template id in the frame's header, read without validating the rest ({@link #MALFORMED} if the frame is
     * shorter than a header or of another schema).
     */
    public static int templateId(DirectBuffer buffer, int offset, int length) {
        if (offset < 0 || length < HEADER_BYTES || (long) offset + length > buffer.capacity()
                || (buffer.getShort(offset + 4, LE) & 0xFFFF) != MessageHeaderDecoder.SCHEMA_ID) {
            return MALFORMED;
        }
        return buffer.getShort(offset + 2, LE) & 0xFFFF;
    }

    /**
     * The frame's template id if it is well formed, else {@link #MALFORMED}.
     */
    public static int validate(DirectBuffer buffer, int offset, int length) {
        if (offset < 0 || length < HEADER_BYTES || (long) offset + length > buffer.capacity()) {
            return MALFORMED;
        }
        final long end = (long) offset + length;
        final int blockLength = buffer.getShort(offset, LE) & 0xFFFF;
        final int templateId = buffer.getShort(offset + 2, LE) & 0xFFFF;
        final int schemaId = buffer.getShort(offset + 4, LE) & 0xFFFF;
        final int version = buffer.getShort(offset + 6, LE) & 0xFFFF;
        if (schemaId != MessageHeaderDecoder.SCHEMA_ID || version < MIN_VERSION
                || version > MessageHeaderDecoder.SCHEMA_VERSION) {
            return MALFORMED;
        }
        if (templateId >= SHAPES.length || SHAPES[templateId] == null) {
            return MALFORMED;
        }
        final Shape shape = SHAPES[templateId];
        if (version < shape.sinceVersion || blockLength < shape.minBlockLength(version)) {
            return MALFORMED;
        }
        long pos = (long) offset + HEADER_BYTES + blockLength;
        if (pos > end) {
            return MALFORMED;
        }
        for (Group group : shape.groups) {
            if (pos + GROUP_HEADER_BYTES > end) {
                return MALFORMED;
            }
            final int entryBlockLength = buffer.getShort((int) pos, LE) & 0xFFFF;
            final int count = buffer.getShort((int) pos + 2, LE) & 0xFFFF;
            if (entryBlockLength < group.entryBlockLength) {
                return MALFORMED;
            }
            pos += GROUP_HEADER_BYTES;
            for (int i = 0; i < count; i++) {
                pos += entryBlockLength;
                if (pos > end) {
                    return MALFORMED;
                }
                pos = skipVars(buffer, pos, end, group.vars(version));
                if (pos < 0) {
                    return MALFORMED;
                }
            }
        }
        pos = skipVars(buffer, pos, end, shape.vars);
        return pos == end ? templateId : MALFORMED;
    }

    private static long skipVars(DirectBuffer buffer, long pos, long end, int vars) {
        for (int v = 0; v < vars; v++) {
            if (pos + VAR_HEADER_BYTES > end) {
                return MALFORMED;
            }
            final long length = buffer.getInt((int) pos, LE) & 0xFFFF_FFFFL;
            if (length > MAX_VAR_BYTES) {
                return MALFORMED;
            }
            pos += VAR_HEADER_BYTES + length;
            if (pos > end) {
                return MALFORMED;
            }
        }
        return pos;
    }
}
