package io.yatt.trainer.run;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.yatt.trainer.task.PromptSampler;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TrainerStateTest {

    @TempDir
    Path dir;

    @Property(tries = 30)
    void shouldRoundTripEveryValueBitForBit(@ForAll double klCoef, @ForAll double lagrange, @ForAll long counter)
            throws IOException {
        if (!Double.isFinite(klCoef) || !Double.isFinite(lagrange)) {
            return; // JSON has no non-finite numbers; the loop never stores them
        }
        Path folder = Files.createTempDirectory("yatt-state");
        try {
            TrainerState state = new TrainerState(7, new PromptSampler.State(3, 11), klCoef, lagrange,
                    Map.of("rng.actor", counter, "rng.sampler", 5L));
            Checkpoint checkpoint = CheckpointStore.at(folder).write(7, Map.of(), state::writeTo);

            TrainerState read = TrainerState.read(checkpoint);

            assertEquals(state, read);
            assertEquals(Double.doubleToLongBits(klCoef), Double.doubleToLongBits(read.klCoef()));
            assertEquals(Double.doubleToLongBits(lagrange), Double.doubleToLongBits(read.lagrangeMultiplier()));
        } finally {
            AtomicFiles.deleteTree(folder);
        }
    }

    @Test
    void shouldRefuseAStateOfAnotherStepOrWithAFieldMissing() throws IOException {
        CheckpointStore store = CheckpointStore.at(dir);
        TrainerState state = new TrainerState(4, new PromptSampler.State(0, 2), 0.1, 0.0, Map.of());
        Checkpoint wrongStep = store.write(5, Map.of(), state::writeTo);
        Checkpoint missingField = store.write(6, Map.of(), folder -> Files.writeString(folder.resolve(
                TrainerState.FILE), "{\"step\": 6, \"sampler_epoch\": 0, \"kl_coef\": 0.1}"));

        assertEquals("trainer state step does not match its checkpoint: path=" + wrongStep.file(TrainerState.FILE)
                + ", state step=4, checkpoint step=5", assertThrows(CheckpointException.class,
                        () -> TrainerState.read(wrongStep)).getMessage());
        assertEquals("trainer state lacks an integer field: path=" + missingField.file(TrainerState.FILE)
                + ", field=sampler_position", assertThrows(CheckpointException.class,
                        () -> TrainerState.read(missingField)).getMessage());
    }
}
