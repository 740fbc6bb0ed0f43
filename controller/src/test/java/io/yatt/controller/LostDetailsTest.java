package io.yatt.controller;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.List;
import org.junit.jupiter.api.Test;

class LostDetailsTest {

    @Test
    void shouldNamePidHostAndWholeMillisecondsOfAgeAndTimeout() {
        assertEquals("pid=42, host=node-3, lastHeartbeatAgeMs=1999, timeoutMs=1500",
                LostDetails.of(42, "node-3", 1_999_999_999L, 1_500_000_000L));
    }

    @Test
    void shouldWriteTheDetailsAfterWhatEachLostExceptionNames() {
        assertEquals("worker lost: role=actor,ref, rank=1, pid=5001, host=host-1, lastHeartbeatAgeMs=2100,"
                        + " timeoutMs=1500",
                new WorkerLostException(List.of("actor", "ref"), 1, 5001, "host-1", 2_100_000_000L, 1_500_000_000L)
                        .getMessage());
        assertEquals("controller lost: index=2, pid=77, host=ctl-0, lastHeartbeatAgeMs=3000, timeoutMs=2000",
                new ControllerLostException(2, 77, "ctl-0", 3_000_000_000L, 2_000_000_000L).getMessage());
    }
}
