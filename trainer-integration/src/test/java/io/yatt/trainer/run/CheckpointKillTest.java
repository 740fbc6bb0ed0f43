package io.yatt.trainer.run;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.OptionalLong;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class CheckpointKillTest {

    @TempDir
    Path dir;

    @Test
    void shouldKeepThePreviousCheckpointWhenTheWriterIsKilledMidWrite() throws Exception {
        String java = ProcessHandle.current().info().command().orElse("java");
        Process child = new ProcessBuilder(java, "-cp", System.getProperty("java.class.path"),
                CheckpointWriterProcess.class.getName(), dir.toString()).redirectErrorStream(true).start();
        try (BufferedReader out = new BufferedReader(new InputStreamReader(child.getInputStream(),
                StandardCharsets.UTF_8))) {
            // Skip anything the JVM itself prints (warnings) before the fixture's line.
            StringBuilder seen = new StringBuilder();
            String line;
            while ((line = out.readLine()) != null && !line.equals("writing")) {
                seen.append(line).append('\n');
            }
            assertEquals("writing", line, "writer ended early:\n" + seen);
            child.destroyForcibly(); // SIGKILL on Unix: no shutdown hooks, no finally blocks
            assertTrue(child.waitFor(60, TimeUnit.SECONDS), "killed writer did not exit");
        } finally {
            child.destroyForcibly();
        }
        Path leftover = dir.resolve("global_step_20.tmp-" + child.pid());
        assertTrue(Files.isDirectory(leftover), "the kill should have interrupted checkpoint 20");

        CheckpointStore store = CheckpointStore.at(dir);

        assertEquals(OptionalLong.of(10), store.latestRecorded());
        assertEquals(List.of(10L), store.publishedSteps());
        CheckpointStore.Resolution resolution = store.latestValid();
        assertEquals(10, resolution.checkpoint().orElseThrow().step());
        assertEquals("ten", Files.readString(resolution.checkpoint().orElseThrow().file("weights.bin")));
        assertEquals(List.of(leftover), store.removeStaleTemporaries());
        assertFalse(Files.exists(leftover));
    }

    @Test
    void shouldNotRemoveTheTemporaryFolderOfALiveWriter() throws IOException {
        // A folder named after this (live) process's parent stands for another writer that is still running.
        long live = ProcessHandle.current().parent().map(ProcessHandle::pid).orElseThrow();
        Path other = dir.resolve("global_step_5.tmp-" + live);
        Files.createDirectories(other);

        assertEquals(List.of(), CheckpointStore.at(dir).removeStaleTemporaries());
        assertTrue(Files.isDirectory(other));
    }
}
