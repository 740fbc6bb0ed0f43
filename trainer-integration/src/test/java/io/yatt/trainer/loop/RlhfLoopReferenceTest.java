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
 * step are the same at 16 and 64 samples. Split, the rollout ranks' responses go to the trainers through the
 * controller's calls, by reference above the limit: at limit 0 the controller's bytes per step are the same at 8 and
 * 16 samples too, and the metrics those of the default limit. Every step ends with no live reference (the loop fails
 * naming any).
 */
class RlhfLoopReferenceTest {

    @ParameterizedTest
    @ValueSource(strings = {"ppo_gae", "grpo_n2", "safe_rlhf"})
    void shouldReproduceTheGoldenAtInlineLimitZeroWithNothingByReference(String name) {
        RlhfLoopGoldenTest.assumeGoldenBackend();
        RlhfLoop.Result result = run(name, List.of("trainer.inline_limit_bytes=0"));
        assertEquals(RlhfLoopGoldenTest.golden(name), RlhfLoopGoldenTest.format(result), name);
    }

    @Test
    void shouldHandleTheSameControllerBytesPerStepWhateverTheBatchSize() {
        List<Long> small = run("ppo_gae", List.of("data.train_batch_size=16")).stepPayloadBytes();
        List<Long> large = run("ppo_gae", List.of("data.train_batch_size=64")).stepPayloadBytes();
        assertEquals(List.of(3388L, 3444L, 3444L), small);
        assertEquals(small, large);
        List<Long> two = run("ppo_gae", List.of("data.train_batch_size=64", "trainer.controllers=2"))
                .stepPayloadBytes();
        assertEquals(run("ppo_gae", List.of("data.train_batch_size=16", "trainer.controllers=2"))
                .stepPayloadBytes(), two);
        assertEquals(List.of(1694L, 1722L, 1722L), two);
    }

    @Test
    void shouldPassTheSplitRolloutOnByReferenceWithFlatControllerBytes() {
        RlhfLoopSplitTest.warmStart();
        TrainConfig split = RlhfLoopSplitTest.split(RlhfLoopSplitTest.colocated, 4);
        RlhfLoop.Result byValue = RlhfLoop.run(split, RlhfLoopSplitTest.task, RlhfLoopSplitTest.model,
                RlhfLoopSplitTest.policy, m -> { });
        TrainConfig byReference = split.withOverrides(List.of("trainer.inline_limit_bytes=0"));
        RlhfLoop.Result small = RlhfLoop.run(byReference, RlhfLoopSplitTest.task, RlhfLoopSplitTest.model,
                RlhfLoopSplitTest.policy, m -> { });
        RlhfLoop.Result large = RlhfLoop.run(byReference.withOverrides(List.of("data.train_batch_size=16")),
                RlhfLoopSplitTest.task, RlhfLoopSplitTest.model, RlhfLoopSplitTest.policy, m -> { });
        assertEquals(RlhfLoopGoldenTest.format(byValue), RlhfLoopGoldenTest.format(small));
        assertEquals(small.stepPayloadBytes(), large.stepPayloadBytes());
        System.out.println("split: by value " + byValue.stepPayloadBytes() + ", by reference at 8 samples "
                + small.stepPayloadBytes() + ", at 16 " + large.stepPayloadBytes());
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
    }

    private static RlhfLoop.Result run(String name, List<String> overrides) {
        TrainConfig config = TrainConfig.load(RlhfLoopGoldenTest.resource(name + ".yaml"), new ArrayList<>(overrides));
        Task task = Task.fromConfig(config, RlhfLoopReferenceTest.class.getClassLoader());
        LlamaConfig model = Sft.modelConfig(config, task);
        Map<String, float[]> policy = Sft.train(model, task, new Sft.Settings(20, 16, 3e-3, 1), null).weights();
        RlhfLoop.Result result = RlhfLoop.run(config, task, model, policy, m -> { });
        System.out.println("reference test " + name + " " + overrides + ": controllerPayloadBytes="
                + result.controllerPayloadBytes() + ", stepPayloadBytes=" + result.stepPayloadBytes());
        return result;
    }
}
