package io.yatt.trainer.loop;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.yatt.trainer.config.TrainConfig;
import io.yatt.trainer.model.LlamaConfig;
import io.yatt.trainer.sft.Sft;
import io.yatt.trainer.task.Task;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class RlhfLoopReferenceTest {

    @Test
    void shouldReproduceTheGoldenWithEveryTensorResultByReference() {
        TrainConfig config = TrainConfig.load(RlhfLoopGoldenTest.resource("ppo_gae.yaml"),
                List.of("trainer.inline_limit_bytes=0"));
        Task task = Task.fromConfig(config, RlhfLoopReferenceTest.class.getClassLoader());
        LlamaConfig model = Sft.modelConfig(config, task);
        Map<String, float[]> policy = Sft.train(model, task, new Sft.Settings(20, 16, 3e-3, 1), null).weights();
        assertEquals(RlhfLoopGoldenTest.resource("ppo_gae.metrics"),
                RlhfLoopGoldenTest.format(RlhfLoop.run(config, task, model, policy, m -> { })));
    }
}
