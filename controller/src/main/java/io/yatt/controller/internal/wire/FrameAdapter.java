package io.yatt.controller.internal.wire;

import io.aeron.logbuffer.FragmentHandler;
import io.aeron.logbuffer.Header;
import org.agrona.DirectBuffer;

/**
 * Receives whole frames (behind Aeron's fragment assembler), decodes them and hands them to a {@link MessageHandler}:
 * a frame that does not decode is counted as malformed, one the handler refuses as dropped or unauthenticated, and a
 * handler that throws as dropped. Nothing thrown here reaches the agent that polls. Confined to the polling thread.
 */
public final class FrameAdapter implements FragmentHandler {

    private final FrameDecoder decoder;
    private final MessageHandler handler;
    private final FrameCounters counters;
    private final Gate gate;

    /**
     * Decides, before a frame is decoded, whether it is authentic: the length of the frame without its MAC trailer, or
     * {@link FrameTag#NOT_AUTHENTIC} (the frame is then counted as unauthenticated and never decoded).
     */
    @FunctionalInterface
    public interface Gate {
        /** Admits every frame as it is (no shared secret). */
        Gate OPEN = (buffer, offset, length, templateId, sessionId) -> length;

        int admit(DirectBuffer buffer, int offset, int length, int templateId, int sessionId);
    }

    /** An adapter decoding with {@code decoder} into {@code handler}, counting into {@code counters}. */
    public FrameAdapter(FrameDecoder decoder, MessageHandler handler, FrameCounters counters) {
        this(decoder, handler, counters, Gate.OPEN);
    }

    /** An adapter that lets only frames {@code gate} admits reach the decoder. */
    public FrameAdapter(FrameDecoder decoder, MessageHandler handler, FrameCounters counters, Gate gate) {
        this.decoder = decoder;
        this.handler = handler;
        this.counters = counters;
        this.gate = gate;
    }

    @Override
    public void onFragment(DirectBuffer buffer, int offset, int length, Header header) {
        onFrame(buffer, offset, length, header.sessionId());
    }

    /** Decodes and applies one frame from {@code sessionId}. */
    public void onFrame(DirectBuffer buffer, int offset, int length, int sessionId) {
        int body;
        try {
            body = gate == Gate.OPEN ? length
                    : gate.admit(buffer, offset, length, FrameValidator.templateId(buffer, offset, length), sessionId);
        } catch (RuntimeException e) {
            body = FrameTag.NOT_AUTHENTIC;
        }
        if (body < 0) {
            counters.unauthenticated();
            return;
        }
        Message message;
        try {
            message = decoder.decode(buffer, offset, body);
        } catch (MalformedFrameException | RuntimeException e) {
            counters.malformed();
            return;
        }
        MessageHandler.Outcome outcome;
        try {
            outcome = handler.onMessage(message, sessionId);
        } catch (RuntimeException e) {
            outcome = MessageHandler.Outcome.DROPPED;
        }
        switch (outcome) {
            case APPLIED -> { }
            case DROPPED -> counters.dropped();
            case UNAUTHENTICATED -> counters.unauthenticated();
        }
    }
}
