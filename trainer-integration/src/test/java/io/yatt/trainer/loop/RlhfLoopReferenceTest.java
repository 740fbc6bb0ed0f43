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
 * {@code trainer.inline_limit_bytes=0}: every result tensor of every worker travels as a reference, the driver reads
 * them back through a worker and every step ends with no live reference (the loop fails naming any); the goldens
 * must hold bit for bit, embedded with one and two controllers and with one JVM per rank.
 */
class RlhfLoopReferenceTest {

    /**
     * ppo_gae (8 samples, response length 4, training DP 2) reads back per step: the rollout's responses I32 [8, 4],
     * lengths I32 [8], log-probs F32 [8, 4] and gen_s, reshard_s, reshard_bytes F64 [8] each (128 + 32 + 128 + 192 =
     * 480 bytes); old, reference log-probs and values F32 [8, 4] (3 x 128 = 384); scores and costs F64 [8]
     * (2 x 64 = 128); vf_loss F64 [1] from each of 2 DP ranks (16) and the actor's seven metrics likewise (7 x 16 =
     * 112): 1120 bytes a step, 3 steps.
     */
    static final long PPO_GAE_REFERENCE_BYTES = 3 * 1120;

    @ParameterizedTest
    @ValueSource(strings = {"ppo_gae", "grpo_n2", "safe_rlhf"})
    void shouldReproduceTheGoldenWithEveryTensorResultByReference(String name) {
        RlhfLoopGoldenTest.assumeGoldenBackend();
        RlhfLoop.Result result = run(name, List.of("trainer.inline_limit_bytes=0"));
        assertEquals(RlhfLoopGoldenTest.golden(name), RlhfLoopGoldenTest.format(result), name);
        if (name.equals("ppo_gae")) {
            assertEquals(PPO_GAE_REFERENCE_BYTES, result.referenceBytes());
        }
    }

    @Test
    void shouldReadNothingByReferenceUnderTheDefaultLimit() {
        assertEquals(0, run("ppo_gae", List.of()).referenceBytes());
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
        System.out.println("reference test " + name + " " + overrides + ": referenceBytes=" + result.referenceBytes()
                + ", controllerPayloadBytes=" + result.controllerPayloadBytes());
        return result;
    }
}
