package io.yatt.bench.controller;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ThreadSwitchesTest {

    @TempDir
    Path proc;

    private void thread(long pid, long tid, String name, long voluntary, long involuntary) throws IOException {
        Path task = Files.createDirectories(proc.resolve(pid + "/task/" + tid));
        Files.writeString(task.resolve("comm"), name + "\n");
        Files.writeString(task.resolve("status"), "Name:\t" + name + "\nState:\tS (sleeping)\n"
            + "voluntary_ctxt_switches:\t" + voluntary + "\nnonvoluntary_ctxt_switches:\t" + involuntary + "\n");
    }

    @Test
    void shouldReadBothCountsFromAStatusFile() {
        assertArrayEquals(new long[] {12, 3}, ThreadSwitches.parse(List.of("Name:\tmain",
            "voluntary_ctxt_switches:\t12", "nonvoluntary_ctxt_switches:\t3")));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
            () -> ThreadSwitches.parse(List.of("voluntary_ctxt_switches:\t12")));
        assertEquals("no context switch counts in a status file: voluntary=12, involuntary=-1, expected"
            + " voluntary_ctxt_switches and nonvoluntary_ctxt_switches", e.getMessage());
    }

    @Test
    void shouldSumThreadsOfOneNamePerProcessAndCountPerRoundTrip() throws IOException {
        thread(100, 100, "main", 10, 20);
        thread(100, 101, "GC Thread#0", 5, 0);
        thread(100, 102, "GC Thread#0", 7, 1);
        thread(200, 200, "yatt-worker-0", 1000, 0);
        ThreadSwitches switches = new ThreadSwitches(proc, Map.of("ctl", 100L, "w0", 200L, "gone", 300L));
        Map<String, long[]> before = switches.snapshot();
        assertEquals(List.of("ctl:GC Thread#0", "ctl:main", "w0:yatt-worker-0"), List.copyOf(before.keySet()));
        assertArrayEquals(new long[] {12, 1}, before.get("ctl:GC Thread#0"));
        thread(100, 100, "main", 10, 220);
        thread(200, 200, "yatt-worker-0", 1400, 2);
        switches.add(before, switches.snapshot(), 200);
        assertEquals(200, switches.roundTrips());
        // main: 200 involuntary over 200 round trips; the worker: 400 voluntary and 2 involuntary; GC threads none
        assertEquals("w0:yatt-worker-0 2.00/0.01, ctl:main 0.00/1.00", switches.perRoundTrip(0.01));
        assertEquals("w0:yatt-worker-0 2.00/0.01", switches.perRoundTrip(1.5));
        // per block: threads with at least 0.05 of either kind per round trip
        assertEquals(List.of("w0:yatt-worker-0 2.00/0.01, ctl:main 0.00/1.00"), switches.blocks());
    }
}
