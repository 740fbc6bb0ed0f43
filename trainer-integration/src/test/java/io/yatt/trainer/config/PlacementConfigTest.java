package io.yatt.trainer.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.List;
import org.junit.jupiter.api.Test;

/** The split and auto placement keys: async, the auto decision settings, and their cross-field rules. */
class PlacementConfigTest {

    private static String message(String... overrides) {
        return assertThrows(ConfigException.class, () -> TrainConfig.load("", List.of(overrides))).getMessage();
    }

    @Test
    void shouldDefaultToSynchronousWithTheDecisionDefaults() {
        TrainConfig.Placement p = TrainConfig.defaults().placement();
        assertEquals(false, p.async());
        assertEquals(new TrainConfig.Auto(3, 3, 0.1, 20), p.auto());
    }

    @Test
    void shouldAcceptAnAutoPlacementWithItsSettings() {
        TrainConfig.Placement p = TrainConfig.load("", List.of("placement.mode=auto", "placement.rollout_world_size=2",
                "parallel.world_size=6", "placement.auto.window_iterations=5", "placement.auto.patience=2",
                "placement.auto.min_relative_gain=0.25", "placement.auto.horizon_iterations=50")).placement();
        assertEquals(PlacementMode.AUTO, p.mode());
        assertEquals(new TrainConfig.Auto(5, 2, 0.25, 50), p.auto());
    }

    @Test
    void shouldAcceptAnAsynchronousSplitPlacement() {
        TrainConfig.Placement p = TrainConfig.load("", List.of("placement.mode=split", "placement.rollout_world_size=2",
                "parallel.world_size=6", "placement.async=true")).placement();
        assertEquals(true, p.async());
    }

    @Test
    void shouldRejectAsyncUnlessSplit() {
        assertEquals("placement.async needs placement.mode=split: placement.mode=colocate",
                message("placement.async=true"));
        assertEquals("placement.async needs placement.mode=split: an asynchronous rollout cannot switch placement, "
                + "placement.mode=auto", message("placement.mode=auto", "placement.rollout_world_size=2",
                "parallel.world_size=6", "placement.async=true"));
    }

    @Test
    void shouldRejectRolloutRanksThatAreNotWholeReplicas() {
        assertEquals("placement.rollout_world_size must be a multiple of p_g*t_g of parallel.generation: "
                + "placement.rollout_world_size=3, p_g*t_g=2", message("placement.mode=split",
                "placement.rollout_world_size=3", "parallel.world_size=7", "parallel.generation=1-2-1-2"));
    }

    @Test
    void shouldRejectSamplesThatDoNotDivideOverTheRolloutReplicas() {
        assertEquals("rollout replicas must divide data.train_batch_size * actor_rollout_ref.rollout.n with "
                + "placement.mode=auto: rollout replicas=3, samples=32", message("placement.mode=auto",
                "placement.rollout_world_size=3", "parallel.world_size=7", "data.train_batch_size=32"));
    }

    @Test
    void shouldRejectAutoSettingsOutOfRange() {
        assertEquals("config value out of range: key=placement.auto.patience, value=0, expected=>= 1",
                message("placement.auto.patience=0"));
        assertEquals("config value out of range: key=placement.auto.min_relative_gain, value=1.0, expected=in [0.0, "
                + "1.0)", message("placement.auto.min_relative_gain=1.0"));
    }
}
