package io.yatt.controller;

import java.util.concurrent.TimeUnit;

/** The details that the messages of {@link WorkerLostException} and {@link ControllerLostException} share. */
final class LostDetails {

    private LostDetails() {
    }

    /** {@code pid=..., host=..., lastHeartbeatAgeMs=..., timeoutMs=...}, the durations in whole milliseconds. */
    static String of(long pid, String host, long lastHeartbeatAgeNs, long timeoutNs) {
        return "pid=" + pid + ", host=" + host + ", lastHeartbeatAgeMs="
                + TimeUnit.NANOSECONDS.toMillis(lastHeartbeatAgeNs) + ", timeoutMs="
                + TimeUnit.NANOSECONDS.toMillis(timeoutNs);
    }
}
