package io.yatt.controller;

/**
 * Which thread of a worker runs a method: its calls thread (the default; heartbeats go on while the method runs) or
 * its agent thread, for cheap methods whose answer should not wait for a thread hand-off.
 */
public enum Execution {

    /** The worker's calls thread: one call at a time, in arrival order, while the agent keeps heartbeating. */
    CALL_THREAD,

    /**
     * The worker's agent thread, as the invoke is decoded, when no earlier call is queued (otherwise the calls thread,
     * behind it, so arrival order holds). For cheap methods only: while one runs the worker neither polls nor
     * heartbeats, so a method that takes longer than the controller's heartbeat timeout gets the worker counted lost.
     */
    AGENT
}
