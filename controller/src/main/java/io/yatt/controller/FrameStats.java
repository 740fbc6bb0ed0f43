package io.yatt.controller;

/**
 * Frames an endpoint (controller or worker) dropped since it started, by reason.
 *
 * @param malformedFrames       frames that did not decode: structure, schema, version, values or payload
 * @param unauthenticatedFrames frames from unregistered senders and registrations whose MAC did not verify
 * @param droppedFrames         well-formed frames that did not apply (unknown call, stale controller, wrong direction)
 */
public record FrameStats(long malformedFrames, long unauthenticatedFrames, long droppedFrames) {
}
