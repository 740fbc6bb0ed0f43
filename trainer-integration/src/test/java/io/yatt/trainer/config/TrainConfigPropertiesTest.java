package io.yatt.trainer.config;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.List;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.DoubleRange;
import net.jqwik.api.constraints.IntRange;
import net.jqwik.api.constraints.Scale;
import net.jqwik.api.constraints.StringLength;
import net.jqwik.api.constraints.AlphaChars;

class TrainConfigPropertiesTest {

    @Property(tries = 200)
    void shouldReloadAnyValidConfigFromItsYamlBitForBit(
            @ForAll @DoubleRange(min = 1e-12, max = 10.0) @Scale(18) double lr,
            @ForAll @DoubleRange(min = 0.0, max = 1.0) @Scale(18) double lam,
            @ForAll @DoubleRange(min = 0.0, max = 5.0) @Scale(18) double klCoef,
            @ForAll @IntRange(min = 1, max = 1_000_000) int steps,
            @ForAll @IntRange(min = -1, max = 1000) int saveFreq,
            @ForAll boolean useKlLoss,
            @ForAll @AlphaChars @StringLength(min = 1, max = 12) String name) {
        TrainConfig config = TrainConfig.load("", List.of(
                "actor_rollout_ref.actor.optim.lr=" + lr, "algorithm.lam=" + lam, "algorithm.kl_ctrl.kl_coef=" + klCoef,
                "trainer.total_training_steps=" + steps, "trainer.save_freq=" + (saveFreq == 0 ? 1 : saveFreq),
                "actor_rollout_ref.actor.use_kl_loss=" + useKlLoss, "trainer.experiment_name=" + name));

        TrainConfig reloaded = TrainConfig.load(config.toYaml(), List.of());

        assertEquals(config, reloaded);
        assertEquals(Double.doubleToLongBits(lr),
                Double.doubleToLongBits(reloaded.actorRolloutRef().actor().optim().lr()));
    }
}
