package io.yatt.controller.placement;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.yatt.hybrid.ModelSpec;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class WorkloadTest {

    @Test
    void shouldListEachAlgorithmsModels() {
        assertEquals(List.of(Role.ACTOR, Role.CRITIC, Role.REFERENCE, Role.REWARD), Algorithm.PPO.roles());
        assertEquals(List.of(Role.ACTOR, Role.REFERENCE, Role.REWARD), Algorithm.GRPO.roles());
        assertEquals(List.of(Role.ACTOR, Role.REFERENCE, Role.REWARD), Algorithm.REMAX.roles());
        assertEquals(List.of(Role.ACTOR, Role.CRITIC, Role.REFERENCE, Role.REWARD, Role.COST),
                Algorithm.SAFE_RLHF.roles());
        assertEquals(Algorithm.SAFE_RLHF, Algorithm.parse("Safe_RLHF"));
    }

    @Test
    void shouldGenerateTwiceInReMax() {
        List<Task> generation = Algorithm.REMAX.stages().getFirst().tasks();
        assertEquals(List.of(new Task(Role.ACTOR, TaskKind.GENERATE), new Task(Role.ACTOR, TaskKind.GENERATE)),
                generation);
    }

    @Test
    void shouldUseHybridFlowsSettingByDefault() {
        Workload w = Workload.of(Algorithm.PPO, LlamaSize.L13B);
        assertEquals(1024, w.globalBatchSequences());
        assertEquals(2048, w.sequenceTokens());
        assertEquals(LlamaSize.L13B.config(), w.models().get(Role.CRITIC));
    }

    @Test
    void shouldRejectNonPositiveSizes() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> Workload.of(Algorithm.PPO, LlamaSize.L7B.config(), 0, 1024, 1024));
        assertEquals("workload sizes must be positive: globalBatchSequences=0, promptTokens=1024, responseTokens=1024",
                e.getMessage());
    }

    @Test
    void shouldRejectModelsThatDoNotMatchTheRoles() {
        Map<Role, ModelSpec.DecoderConfig> models = new EnumMap<>(Role.class);
        models.put(Role.ACTOR, LlamaSize.L7B.config());
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> new Workload(Algorithm.GRPO, models, 8, 8, 8));
        assertEquals("models must cover exactly the algorithm's roles: algo=grpo, roles=[ACTOR, REFERENCE, REWARD], "
                + "models=[ACTOR]", e.getMessage());
    }

    @Test
    void shouldRejectATaskTheRoleCannotDo() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> new Task(Role.REWARD, TaskKind.TRAIN));
        assertEquals("role cannot do task: role=reward, kind=TRAIN", e.getMessage());
    }
}
