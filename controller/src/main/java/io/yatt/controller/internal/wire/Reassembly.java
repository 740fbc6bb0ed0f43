package io.yatt.controller.internal.wire;

import io.aeron.ControlledFragmentAssembler;
import io.aeron.FragmentAssembler;
import io.aeron.logbuffer.ControlledFragmentHandler;
import io.aeron.logbuffer.FragmentHandler;
import java.util.function.IntConsumer;
import org.agrona.DirectBuffer;
import org.agrona.MutableDirectBuffer;

/**
 * Aeron fragment assemblers for the control streams that drop a session's reassembly buffer once a frame longer than
 * {@link FrameEncoder#RETAINED_CAPACITY_BYTES} has been handled: Aeron's assembler keeps one buffer per session, grown
 * to the largest message that session sent, for as long as the assembler lives, so an agent would otherwise hold a
 * copy of every peer's largest inline payload (the largest result of a finished call) for good. The buffer object the
 * frame was handed in is also detached from its array, since the decoder's flyweights keep referring to the last
 * buffer they read.
 */
public final class Reassembly {

    private static final byte[] NO_BYTES = new byte[0];

    private Reassembly() {
    }

    /**
     * Drops session {@code sessionId}'s reassembly ({@code free}) and detaches {@code assembled}, the buffer the frame
     * was handed in, from its array. Only for frames longer than {@link FrameEncoder#RETAINED_CAPACITY_BYTES}: those
     * are above Aeron's largest MTU, so they come from a reassembly buffer, never from the log itself.
     */
    private static void release(IntConsumer free, int sessionId, DirectBuffer assembled) {
        free.accept(sessionId);
        if (assembled instanceof MutableDirectBuffer mutable) {
            mutable.wrap(NO_BYTES);
        }
    }

    /**
     * A controlled assembler handing whole frames to {@code delegate}; a frame the delegate aborts keeps its buffer
     * (Aeron delivers it again).
     */
    public static ControlledFragmentAssembler controlled(ControlledFragmentHandler delegate) {
        ControlledFragmentAssembler[] self = new ControlledFragmentAssembler[1];
        self[0] = new ControlledFragmentAssembler((buffer, offset, length, header) -> {
            ControlledFragmentHandler.Action action = delegate.onFragment(buffer, offset, length, header);
            if (length > FrameEncoder.RETAINED_CAPACITY_BYTES && action != ControlledFragmentHandler.Action.ABORT) {
                // the assembler resets the builder it holds after this returns; the map no longer has it
                release(self[0]::freeSessionBuffer, header.sessionId(), buffer);
            }
            return action;
        });
        return self[0];
    }

    /** An assembler handing whole frames to {@code delegate}. */
    public static FragmentAssembler plain(FragmentHandler delegate) {
        FragmentAssembler[] self = new FragmentAssembler[1];
        self[0] = new FragmentAssembler((buffer, offset, length, header) -> {
            try {
                delegate.onFragment(buffer, offset, length, header);
            } finally {
                if (length > FrameEncoder.RETAINED_CAPACITY_BYTES) {
                    release(self[0]::freeSessionBuffer, header.sessionId(), buffer);
                }
            }
        });
        return self[0];
    }
}
