package io.yatt.controller.internal.wire;

/** Receives the messages an adapter decoded, with the Aeron session they came from. */
@FunctionalInterface
public interface MessageHandler {

    /**
     * Applies {@code message}; returns false when it does not apply here (the adapter counts it as dropped or
     * unauthenticated per {@link Outcome}).
     */
    Outcome onMessage(Message message, int sessionId);

    /** What became of a decoded message. */
    enum Outcome { APPLIED, DROPPED, UNAUTHENTICATED }
}
