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

    /** An adapter decoding with {@code decoder} into {@code handler}, counting into {@code counters}. */
    public FrameAdapter(FrameDecoder decoder, MessageHandler handler, FrameCounters counters) {
        this.decoder = decoder;
        this.handler = handler;
        this.counters = counters;
    }

    @Override
    public void onFragment(DirectBuffer buffer, int offset, int length, Header header) {
        onFrame(buffer, offset, length, header.sessionId());
    }

    /** Decodes and applies one frame from {@code sessionId}. */
    public void onFrame(DirectBuffer buffer, int offset, int length, int sessionId) {
        Message message;
        try {
            message = decoder.decode(buffer, offset, length);
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
