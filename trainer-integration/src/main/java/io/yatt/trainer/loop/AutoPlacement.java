package io.yatt.trainer.loop;

import io.yatt.controller.placement.Algorithm;
import io.yatt.controller.placement.Cluster;
import io.yatt.controller.placement.DeviceProfile;
import io.yatt.controller.placement.DynamicPlacement;
import io.yatt.controller.placement.RuntimePlacement;
import io.yatt.controller.placement.RuntimePredictor;
import io.yatt.controller.placement.StageTimes;
import io.yatt.controller.placement.Workload;
import io.yatt.hybrid.HybridLayout;
import io.yatt.hybrid.ModelSpec;
import io.yatt.tensor.DType;
import io.yatt.trainer.config.AdvantageEstimator;
import io.yatt.trainer.config.TrainConfig;
import io.yatt.trainer.model.LlamaConfig;
import io.yatt.trainer.run.MetricNames;
import java.util.Map;

/**
 * {@code placement.mode=auto} in the driver: the {@link DynamicPlacement} built from the config (its
 * {@code placement.auto.*} settings, the cost model's uncalibrated predictions for this model, batch and ranks on the
 * built-in {@value #PROFILE} profile, which the decider calibrates per stage from the measured times), and a step's
 * measured stage times from its metrics.
 */
final class AutoPlacement {

    /** The device profile of the uncalibrated predictions (the decider rescales every stage by measured/predicted). */
    static final String PROFILE = "a100";

    private AutoPlacement() {
    }

    /**
     * A decider starting colocated; switching to split is estimated at the predicted split transition (one weight
     * sync), switching back at 0 (the trainers hold the weights); the first sync after a switch replaces the former.
     *
     * @throws IllegalArgumentException if the cost model cannot place the actor's generation (see RuntimePredictor)
     */
    static DynamicPlacement decider(TrainConfig cfg, LlamaConfig model, int samples, boolean critic) {
        HybridLayout layout = cfg.parallel().layout();
        TrainConfig.Rollout ro = cfg.actorRolloutRef().rollout();
        AdvantageEstimator est = cfg.algorithm().advEstimator();
        Algorithm algorithm = est == AdvantageEstimator.SAFE_RLHF ? Algorithm.SAFE_RLHF
                : est == AdvantageEstimator.REMAX ? Algorithm.REMAX
                : critic ? Algorithm.PPO : Algorithm.GRPO;
        ModelSpec.DecoderConfig shape = new ModelSpec.DecoderConfig(model.numHiddenLayers(), model.hiddenSize(),
                model.numAttentionHeads(), model.numKeyValueHeads(), model.intermediateSize(), model.vocabSize(),
                DType.BF16, layout.train().t(), false);
        Workload workload = Workload.of(algorithm, shape, samples, cfg.data().maxPromptLength(), ro.responseLength());
        int rolloutRanks = cfg.placement().rolloutWorldSize();
        int gpus = layout.worldSize() + rolloutRanks;
        DynamicPlacement.Predictions predictions = RuntimePredictor.predict(workload,
                Cluster.of(gpus, gpus, DeviceProfile.builtIn(PROFILE)), layout.train(), layout.gen().pg(),
                layout.gen().tg(), rolloutRanks);
        TrainConfig.Auto a = cfg.placement().auto();
        return DynamicPlacement.create(new DynamicPlacement.Settings(a.windowIterations(), a.patience(),
                a.minRelativeGain(), a.horizonIterations(), false), predictions, RuntimePlacement.COLOCATE,
                predictions.split().transitionS(), 0);
    }

    /**
     * A step's stage times from its metrics: generation {@code timing_s/gen}, transition {@code timing_s/reshard}
     * (the colocated reshard or the split weight sync), preparation {@code timing_s/ref + values + adv}, training
     * {@code timing_s/update_actor + update_critic} (a stage the step did not run counts 0).
     */
    static StageTimes stageTimes(Map<String, Double> metrics) {
        return new StageTimes(get(metrics, MetricNames.TIMING_GEN), get(metrics, MetricNames.TIMING_RESHARD),
                get(metrics, MetricNames.TIMING_REF) + get(metrics, MetricNames.TIMING_VALUES)
                        + get(metrics, MetricNames.TIMING_ADV),
                get(metrics, MetricNames.TIMING_UPDATE_ACTOR) + get(metrics, MetricNames.TIMING_UPDATE_CRITIC));
    }

    private static double get(Map<String, Double> metrics, String name) {
        return metrics.getOrDefault(name, 0.0);
    }
}
