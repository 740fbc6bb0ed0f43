package io.yatt.controller;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.agrona.concurrent.BackoffIdleStrategy;
import org.agrona.concurrent.BusySpinIdleStrategy;
import org.agrona.concurrent.IdleStrategy;
import org.agrona.concurrent.YieldingIdleStrategy;
import org.junit.jupiter.api.Test;

class ControlPlaneIdleTest {

    @Test
    void shouldBuildTheAgronaStrategyOfEachChoice() {
        assertTrue(ControlPlane.Idle.BUSY_SPIN.newStrategy() instanceof BusySpinIdleStrategy);
        assertTrue(ControlPlane.Idle.YIELDING.newStrategy() instanceof YieldingIdleStrategy);
        IdleStrategy backoff = ControlPlane.Idle.BACKOFF.newStrategy();
        assertTrue(backoff instanceof BackoffIdleStrategy, backoff.toString());
        // 10 spins, 20 yields, then parks from 1 us doubling up to 1 ms
        String text = backoff.toString();
        for (String part : new String[] {"maxSpins=10", "maxYields=20", "minParkPeriodNs=1000,",
            "maxParkPeriodNs=1000000"}) {
            assertTrue(text.contains(part), text);
        }
    }

    @Test
    void shouldBuildTheWindowedBackOffWithTheSameSpinsAndParksAndA100MicrosecondYieldWindow() {
        IdleStrategy windowed = ControlPlane.Idle.WINDOWED_BACKOFF.newStrategy();
        assertEquals("WindowedBackoffIdleStrategy{maxSpins=10, yieldWindowNs=100000, minParkPeriodNs=1000,"
            + " maxParkPeriodNs=1000000}", windowed.toString());
        assertEquals("windowed-backoff", windowed.alias());
    }

    @Test
    void shouldBuildANewStrategyPerCallBecauseAStrategyHoldsOneThreadsState() {
        assertNotSame(ControlPlane.Idle.BACKOFF.newStrategy(), ControlPlane.Idle.BACKOFF.newStrategy());
        assertEquals("backoff", ControlPlane.Idle.BACKOFF.newStrategy().alias());
    }
}
