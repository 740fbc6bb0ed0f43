package io.yatt.trainer.loop;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.yatt.trainer.config.TrainConfig;
import io.yatt.trainer.model.LlamaConfig;
import io.yatt.trainer.sft.Sft;
import io.yatt.trainer.task.Task;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * What the loop's controller handles. Colocated, the step's batch stays on the trainer ranks (each holds all of it and
 * computes rewards and advantages itself), so the controller sends sampler positions and coefficients and gets
 * scalars back: nothing is published as a reference, even at {@code trainer.inline_limit_bytes=0}, the goldens hold
 * bit for bit there (embedded with one and two controllers, and with one JVM per rank), and the controller's bytes per
 * step are the same at 16 and 64 samples. Split, the rollout ranks' responses pass through the controller to the
 * trainers, by reference above the limit, read back through a worker; every step ends with no live reference (the
 * loop fails naming any).
 */
class RlhfLoopReferenceTest {

    /**
     * Split ppo_gae (8 samples, response length 4) reads back per step the rollout ranks' responses I32 [8, 4],
     * lengths I32 [8], log-probs F32 [8, 4] and gen_s, reshard_s, reshard_bytes, weight_version F64 [8] each
     * (128 + 32 + 128 + 256 = 544 bytes), 3 steps.
     */
    static final long SPLIT_REFERENCE_BYTES = 3 * 544;

    @ParameterizedTest
    @ValueSource(strings = {"ppo_gae", "grpo_n2", "safe_rlhf"})
    void shouldReproduceTheGoldenAtInlineLimitZeroWithNothingByReference(String name) {
        RlhfLoopGoldenTest.assumeGoldenBackend();
        RlhfLoop.Result result = run(name, List.of("trainer.inline_limit_bytes=0"));
        assertEquals(RlhfLoopGoldenTest.golden(name), RlhfLoopGoldenTest.format(result), name);
        assertEquals(0, result.referenceBytes(), name);
    }

    @Test
    void shouldHandleTheSameControllerBytesPerStepWhateverTheBatchSize() {
        List<Long> small = run("ppo_gae", List.of("data.train_batch_size=16")).stepPayloadBytes();
        List<Long> large = run("ppo_gae", List.of("data.train_batch_size=64")).stepPayloadBytes();
        assertEquals(3, small.size());
        assertEquals(small, large);
        List<Long> two = run("ppo_gae", List.of("data.train_batch_size=64", "trainer.controllers=2"))
                .stepPayloadBytes();
        assertEquals(run("ppo_gae", List.of("data.train_batch_size=16", "trainer.controllers=2"))
                .stepPayloadBytes(), two);
    }

    @Test
    void shouldReadTheSplitRolloutBackByReferenceAtInlineLimitZero() {
        RlhfLoopSplitTest.warmStart();
        TrainConfig split = RlhfLoopSplitTest.split(RlhfLoopSplitTest.colocated, 4);
        RlhfLoop.Result byValue = RlhfLoop.run(split, RlhfLoopSplitTest.task, RlhfLoopSplitTest.model,
                RlhfLoopSplitTest.policy, m -> { });
        RlhfLoop.Result byReference = RlhfLoop.run(split.withOverrides(List.of("trainer.inline_limit_bytes=0")),
                RlhfLoopSplitTest.task, RlhfLoopSplitTest.model, RlhfLoopSplitTest.policy, m -> { });
        assertEquals(0, byValue.referenceBytes());
        assertEquals(SPLIT_REFERENCE_BYTES, byReference.referenceBytes());
        assertEquals(RlhfLoopGoldenTest.format(byValue), RlhfLoopGoldenTest.format(byReference));
    }

    @Test
    void shouldReproduceTheGoldenByReferenceWithTwoControllers() {
        RlhfLoopGoldenTest.assumeGoldenBackend();
        RlhfLoop.Result result = run("ppo_gae", List.of("trainer.inline_limit_bytes=0", "trainer.controllers=2"));
        assertEquals(RlhfLoopGoldenTest.golden("ppo_gae"), RlhfLoopGoldenTest.format(result));
    }

    @Test
    void shouldReproduceTheGoldenByReferenceWithOneJvmPerRankAndTwoControllers(@TempDir Path runs) {
        RlhfLoopGoldenTest.assumeGoldenBackend();
        RlhfLoop.Result result = run("ppo_gae", List.of("trainer.inline_limit_bytes=0", "trainer.backend=shm",
                "trainer.controllers=2", "trainer.runs_dir=" + runs));
        assertEquals(RlhfLoopGoldenTest.golden("ppo_gae"), RlhfLoopGoldenTest.format(result));
        assertEquals(0, result.referenceBytes());
    }

    private static RlhfLoop.Result run(String name, List<String> overrides) {
        TrainConfig config = TrainConfig.load(RlhfLoopGoldenTest.resource(name + ".yaml"), new ArrayList<>(overrides));
        Task task = Task.fromConfig(config, RlhfLoopReferenceTest.class.getClassLoader());
        LlamaConfig model = Sft.modelConfig(config, task);
        Map<String, float[]> policy = Sft.train(model, task, new Sft.Settings(20, 16, 3e-3, 1), null).weights();
        RlhfLoop.Result result = RlhfLoop.run(config, task, model, policy, m -> { });
        System.out.println("reference test " + name + " " + overrides + ": referenceBytes=" + result.referenceBytes()
                + ", controllerPayloadBytes=" + result.controllerPayloadBytes() + ", stepPayloadBytes="
                + result.stepPayloadBytes());
        return result;
    }
}
