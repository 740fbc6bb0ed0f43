package io.yatt.controller.internal.wire;

/**
 * A frame or payload that does not decode; thrown inside the wire layer only and turned into a counted drop by the
 * adapters, never out of an agent.
 */
public final class MalformedFrameException extends Exception {

    MalformedFrameException(String message) {
        super(message, null, false, false);
    }
}
