package io.yatt.controller;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.aeron.CommonContext;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/**
 * The embedded drivers' directories of yatt processes that died (SIGKILL) are removed by the next control plane or
 * worker that starts or closes on the host: named with their pid ({@code ContextsTest}), gone only when that process
 * is gone and its driver has not heartbeated; a live process's directory, and one not named by yatt, stay.
 */
class DeadDriverDirectoriesTest {

    @Test
    void shouldRemoveOnlyTheDirectoriesOfDeadProcesses() throws IOException {
        String base = CommonContext.getAeronDirectoryName();
        Path dead = Path.of(base + "-yatt-sweep-test-p999999999-abc123");
        Path alive = Path.of(base + "-yatt-sweep-test-p" + ProcessHandle.current().pid() + "-abc123");
        Path foreign = Path.of(base + "-other-sweep-test-p999999999-abc123");
        try {
            for (Path p : new Path[] {dead, alive, foreign}) {
                Files.createDirectories(p);
                Files.writeString(p.resolve("cnc.dat"), "not a driver");
            }
            assertTrue(Contexts.removeDeadDriverDirectories().contains(dead.toAbsolutePath()));
            assertFalse(Files.exists(dead));
            assertTrue(Files.exists(alive.resolve("cnc.dat")));
            assertTrue(Files.exists(foreign.resolve("cnc.dat")));
            assertEquals(false, Contexts.removeDeadDriverDirectories().contains(alive.toAbsolutePath()));
        } finally {
            for (Path p : new Path[] {dead, alive, foreign}) {
                Files.deleteIfExists(p.resolve("cnc.dat"));
                Files.deleteIfExists(p);
            }
        }
    }

    @Test
    void shouldRemoveTheDirectoriesOfTheExitedProcessItIsToldOfOnly() throws IOException {
        String base = CommonContext.getAeronDirectoryName();
        Path exited = Path.of(base + "-yatt-reaped-test-p999999997-abc123");
        Path other = Path.of(base + "-yatt-reaped-test-p999999996-abc123");
        Path alive = Path.of(base + "-yatt-reaped-test-p" + ProcessHandle.current().pid() + "-abc123");
        try {
            for (Path p : new Path[] {exited, other, alive}) {
                Files.createDirectories(p);
                Files.writeString(p.resolve("cnc.dat"), "not a driver");
            }
            assertEquals(1, ControlPlane.removeDriverDirectoriesOf(999999997L));
            assertFalse(Files.exists(exited));
            assertTrue(Files.exists(other.resolve("cnc.dat")));
            // a process of that pid still runs: its directory stays
            assertEquals(0, ControlPlane.removeDriverDirectoriesOf(ProcessHandle.current().pid()));
            assertTrue(Files.exists(alive.resolve("cnc.dat")));
        } finally {
            for (Path p : new Path[] {exited, other, alive}) {
                Files.deleteIfExists(p.resolve("cnc.dat"));
                Files.deleteIfExists(p);
            }
        }
    }
}
