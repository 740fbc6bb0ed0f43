package io.yatt.collectives.internal;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

class GroupScopeTest {

    @Test
    void shouldEndOnceAndRunTheQueuedCallsOnClose() {
        List<String> events = new ArrayList<>();
        GroupScope<String> scope = GroupScope.open(2, () -> events.add("end"), calls -> null,
                calls -> events.add("run " + calls));
        scope.add("allGather");
        scope.add("barrier");
        scope.close();
        assertEquals(List.of("end", "run [allGather, barrier]"), events);
        IllegalStateException e = assertThrows(IllegalStateException.class, scope::close);
        assertEquals("group already closed: rank=2, calls=2", e.getMessage());
        assertEquals(List.of("end", "run [allGather, barrier]"), events);
    }

    @Test
    void shouldCloseAnEmptyScopeWithoutRunningAnything() {
        List<String> events = new ArrayList<>();
        GroupScope<String> scope = GroupScope.open(0, () -> events.add("end"), calls -> null,
                calls -> events.add("run " + calls));
        scope.close();
        assertEquals(List.of("end"), events);
    }

    @Test
    void shouldStartOnSubmitAndNotRunAgainOnClose() {
        List<String> events = new ArrayList<>();
        GroupScope<String> scope = GroupScope.open(1, () -> events.add("end"), calls -> {
            events.add("start " + calls);
            return null;
        }, calls -> events.add("run " + calls));
        scope.add("send");
        assertNull(scope.submit());
        scope.close();
        assertEquals(List.of("end", "start [send]"), events);
        IllegalStateException e = assertThrows(IllegalStateException.class, scope::submit);
        assertEquals("group already closed: rank=1, calls=1", e.getMessage());
    }
}
