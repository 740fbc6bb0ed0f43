package io.yatt.trainer.run;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.OptionalLong;
import java.util.stream.Stream;
import java.util.zip.CRC32C;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class CheckpointStoreTest {

    @TempDir
    Path dir;

    private static CheckpointPayload payload(String weights) {
        return folder -> {
            Files.createDirectories(folder.resolve("actor"));
            Files.writeString(folder.resolve("actor/weights.bin"), weights);
            Files.writeString(folder.resolve("trainer_state.json"), "{\"step\":1}");
        };
    }

    private static String crc(String text) {
        CRC32C crc = new CRC32C();
        crc.update(text.getBytes(StandardCharsets.UTF_8));
        return String.format("%08x", crc.getValue());
    }

    private List<String> entries() throws IOException {
        try (Stream<Path> list = Files.list(dir)) {
            return list.map(p -> p.getFileName().toString()).sorted().toList();
        }
    }

    @Test
    void shouldPublishAVerifiedCheckpointAndRecordItAsLatest() throws IOException {
        CheckpointStore store = CheckpointStore.at(dir);

        Checkpoint written = store.write(10, Map.of("world_size", "4"), payload("abc"));
        Checkpoint opened = CheckpointStore.open(dir.resolve("global_step_10"));

        assertEquals(written, opened);
        assertEquals(10, opened.step());
        assertEquals(List.of("actor/weights.bin", "trainer_state.json"), opened.files());
        assertEquals(Map.of("world_size", "4"), opened.meta());
        assertEquals("10", Files.readString(dir.resolve("latest_checkpointed_iteration.txt")));
        assertEquals(OptionalLong.of(10), store.latestRecorded());
        assertEquals(List.of("global_step_10", "latest_checkpointed_iteration.txt"), entries());
        String manifest = Files.readString(dir.resolve("global_step_10/manifest.json"));
        assertTrue(manifest.contains("\"crc32c\" : \"" + crc("abc") + "\""), manifest);
    }

    @Test
    void shouldComputeTheStandardCrc32cCheckValue() throws IOException {
        Path file = dir.resolve("check");
        Files.writeString(file, "123456789");

        assertEquals(0xE3069283L, CheckpointStore.crc32c(file));
    }

    @Test
    void shouldLeaveThePreviousCheckpointValidWhenTheWriterDiesMidWrite() throws IOException {
        CheckpointStore store = CheckpointStore.at(dir);
        store.write(10, Map.of(), payload("first"));
        IllegalStateException crash = new IllegalStateException("simulated crash");

        IllegalStateException thrown = assertThrows(IllegalStateException.class, () -> store.write(20, Map.of(),
                folder -> {
                    Files.writeString(folder.resolve("half.bin"), "partial");
                    throw crash;
                }));

        assertSame(crash, thrown);
        assertEquals(List.of("global_step_10", "latest_checkpointed_iteration.txt"), entries());
        assertEquals(OptionalLong.of(10), store.latestRecorded());
        CheckpointStore.Resolution resolution = store.latestValid();
        assertEquals(10, resolution.checkpoint().orElseThrow().step());
        assertEquals(List.of(), resolution.skipped());
    }

    @Test
    void shouldWrapAnIoFailureOfThePayloadAndCleanUp() throws IOException {
        CheckpointStore store = CheckpointStore.at(dir);

        UncheckedIOException thrown = assertThrows(UncheckedIOException.class, () -> store.write(5, Map.of(),
                folder -> {
                    throw new IOException("disk full");
                }));

        assertEquals("cannot write checkpoint: path=" + dir.resolve("global_step_5") + ", error=disk full",
                thrown.getMessage());
        assertEquals(List.of(), entries());
    }

    @Test
    void shouldIgnoreAndRemoveTheTemporaryFolderOfAKilledWriter() throws IOException {
        CheckpointStore store = CheckpointStore.at(dir);
        store.write(10, Map.of(), payload("first"));
        // What SIGKILL during a write leaves: a temporary folder of a process that no longer exists.
        Path leftover = dir.resolve("global_step_20.tmp-999999999");
        Files.createDirectories(leftover);
        Files.writeString(leftover.resolve("half.bin"), "partial");

        assertEquals(10, store.latestValid().checkpoint().orElseThrow().step());
        assertEquals(List.of(10L), store.publishedSteps());
        assertEquals(List.of(leftover), store.removeStaleTemporaries());
        assertFalse(Files.exists(leftover));
    }

    @Test
    void shouldNameAStagingFolderNoCheckpointListingSeesAndRemoveItOnceItsProcessIsGone() throws IOException {
        CheckpointStore store = CheckpointStore.at(dir);
        store.write(10, Map.of(), payload("first"));
        Path mine = store.stagingFolder(11);
        assertEquals(dir.resolve("global_step_11.staging-" + ProcessHandle.current().pid()), mine);
        Path dead = dir.resolve("global_step_12.staging-999999999");
        Files.createDirectories(mine);
        Files.createDirectories(dead);
        assertEquals(List.of(10L), store.publishedSteps());
        assertEquals(10, store.latestValid().checkpoint().orElseThrow().step());
        // this process's own staging folder counts as a leftover too (a new run of the same process starts clean)
        assertEquals(java.util.Set.of(mine, dead), java.util.Set.copyOf(store.removeStaleTemporaries()));
        assertFalse(Files.exists(dead));
    }

    @Test
    void shouldRefuseACorruptFileAndFallBackToTheOlderCheckpointOnAuto() throws IOException {
        CheckpointStore store = CheckpointStore.at(dir);
        store.write(10, Map.of(), payload("first"));
        store.write(20, Map.of(), payload("second"));
        Files.writeString(dir.resolve("global_step_20/actor/weights.bin"), "secxnd");

        String expected = "checkpoint file corrupt: path=" + dir.resolve("global_step_20")
                + ", file=actor/weights.bin, crc32c expected=" + crc("second") + ", actual=" + crc("secxnd");
        assertEquals(expected, assertThrows(CheckpointException.class,
                () -> CheckpointStore.open(dir.resolve("global_step_20"))).getMessage());
        CheckpointStore.Resolution resolution = store.latestValid();
        assertEquals(10, resolution.checkpoint().orElseThrow().step());
        assertEquals(List.of(expected), resolution.skipped());
    }

    @Test
    void shouldNameWhatIsWrongWithAnIncompleteOrAlteredCheckpoint() throws IOException {
        CheckpointStore store = CheckpointStore.at(dir);
        Path ten = store.write(10, Map.of(), payload("first")).path();

        Files.writeString(ten.resolve("actor/weights.bin"), "firs");
        assertEquals("checkpoint file has the wrong size: path=" + ten + ", file=actor/weights.bin, expected=5, "
                + "actual=4", message(ten));

        Files.writeString(ten.resolve("actor/weights.bin"), "first");
        Files.writeString(ten.resolve("extra.bin"), "x");
        assertEquals("checkpoint holds a file its manifest does not list: path=" + ten + ", file=extra.bin",
                message(ten));

        Files.delete(ten.resolve("extra.bin"));
        Files.delete(ten.resolve("trainer_state.json"));
        assertEquals("checkpoint file missing: path=" + ten + ", file=trainer_state.json", message(ten));

        Path moved = dir.resolve("global_step_12");
        store.write(10, Map.of(), payload("first"));
        Files.move(ten, moved);
        assertEquals("checkpoint step does not match its folder: path=" + moved + ", manifest step=10, "
                + "folder step=12", message(moved));

        Files.delete(moved.resolve("manifest.json"));
        assertEquals("checkpoint has no manifest.json (incomplete write?): path=" + moved, message(moved));
        assertEquals("checkpoint folder not found: path=" + dir.resolve("nope"), message(dir.resolve("nope")));
    }

    @Test
    void shouldRefuseACheckpointOfAnotherRunNamingTheKey() {
        Checkpoint checkpoint = CheckpointStore.at(dir).write(3, Map.of("model.hidden_size", "64", "world", "4"),
                payload("w"));

        checkpoint.requireMeta(Map.of("world", "4"));
        assertEquals("checkpoint does not match this run: path=" + dir.resolve("global_step_3")
                + ", key=model.hidden_size, checkpoint=64, run=128", assertThrows(CheckpointException.class,
                        () -> checkpoint.requireMeta(Map.of("model.hidden_size", "128", "world", "4"))).getMessage());
        assertEquals("checkpoint does not match this run: path=" + dir.resolve("global_step_3")
                + ", key=seed, checkpoint=<absent>, run=1", assertThrows(CheckpointException.class,
                        () -> checkpoint.requireMeta(Map.of("seed", "1"))).getMessage());
    }

    @Test
    void shouldReplaceACheckpointOfTheSameStepAndRefuseTheReservedName() throws IOException {
        CheckpointStore store = CheckpointStore.at(dir);
        store.write(10, Map.of(), payload("first"));

        store.write(10, Map.of(), payload("again"));

        assertEquals("again", Files.readString(dir.resolve("global_step_10/actor/weights.bin")));
        assertEquals("checkpoint payload wrote the reserved file: file=manifest.json", assertThrows(
                IllegalArgumentException.class, () -> store.write(11, Map.of(),
                        folder -> Files.writeString(folder.resolve("manifest.json"), "{}"))).getMessage());
        assertEquals(List.of("global_step_10", "latest_checkpointed_iteration.txt"), entries());
    }

    private static String message(Path path) {
        return assertThrows(CheckpointException.class, () -> CheckpointStore.open(path)).getMessage();
    }
}
