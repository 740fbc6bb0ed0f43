package io.yatt.collectives.internal;

import io.yatt.collectives.CollectiveMismatchException;
import io.yatt.collectives.CollectiveTimeoutException;
import io.yatt.collectives.CommunicatorAbortedException;

import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertSame;

class LifecycleTest {

    @Test
    void shouldRestateARecordedTimeoutForTheOperationThatRanIntoIt() {
        CollectiveTimeoutException recorded = new CollectiveTimeoutException("allGather", 4, List.of(2), 400, null);
        RuntimeException e = Lifecycle.translateCause(recorded, "barrier", 5, 400, 0, 3);
        CollectiveTimeoutException timeout = assertInstanceOf(CollectiveTimeoutException.class, e);
        assertEquals("barrier timed out: op=barrier, seq=5, missing ranks=[2], timeoutNs=400", timeout.getMessage());
        assertSame(recorded, timeout.getCause());
    }

    @Test
    void shouldKeepAMismatchMessage() {
        CollectiveMismatchException recorded = new CollectiveMismatchException("calls differ: rank 0 vs rank 1", null);
        RuntimeException e = Lifecycle.translateCause(recorded, "allReduce", 1, 400, 1, 2);
        assertEquals("calls differ: rank 0 vs rank 1", assertInstanceOf(CollectiveMismatchException.class, e).getMessage());
    }

    @Test
    void shouldAbortOnAnyOtherCause() {
        IllegalStateException recorded = new IllegalStateException("cuda error 700");
        RuntimeException e = Lifecycle.translateCause(recorded, "allReduce", 1, 400, 1, 2);
        CommunicatorAbortedException aborted = assertInstanceOf(CommunicatorAbortedException.class, e);
        assertEquals("communicator aborted: rank=1, size=2, cause=cuda error 700", aborted.getMessage());
        assertSame(recorded, aborted.getCause());
    }
}
