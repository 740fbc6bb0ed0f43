package io.yatt.controller;

/**
 * Frames an endpoint (controller or worker) dropped since it started, by reason, and the errors its threads did not
 * expect.
 *
 * @param malformedFrames       frames that did not decode: structure, schema, version, values or payload
 * @param unauthenticatedFrames frames from unregistered senders and registrations whose MAC did not verify
 * @param droppedFrames         well-formed frames that did not apply (unknown call, stale controller, wrong direction)
 * @param agentErrors           errors that escaped a handler or a duty cycle (also printed to standard error): each
 *                              one a bug or a failing user type, never an expected condition
 */
public record FrameStats(long malformedFrames, long unauthenticatedFrames, long droppedFrames, long agentErrors) {

    /** Counts of dropped frames with no agent error. */
    public FrameStats(long malformedFrames, long unauthenticatedFrames, long droppedFrames) {
        this(malformedFrames, unauthenticatedFrames, droppedFrames, 0);
    }
}
