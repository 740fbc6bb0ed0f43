package io.yatt.trainer.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;

class TrainConfigTest {

    private static String message(String yaml, String... overrides) {
        return assertThrows(ConfigException.class, () -> TrainConfig.load(yaml, List.of(overrides))).getMessage();
    }

    @Test
    void shouldDefaultToFourInProcessRanksColocatedWithTraining122AndGeneration1122() {
        TrainConfig config = TrainConfig.defaults();

        assertEquals(4, config.parallel().worldSize());
        assertEquals("1-2-2", config.parallel().training());
        assertEquals("1-1-2-2", config.parallel().generation());
        assertEquals(2, config.parallel().layout().gen().dg());
        assertEquals(PlacementMode.COLOCATE, config.placement().mode());
        assertEquals(Backend.IN_PROCESS, config.trainer().backend());
        assertEquals(1, config.trainer().controllers());
        assertEquals(AdvantageEstimator.GAE, config.algorithm().advEstimator());
        assertEquals(TaskKind.ADDITION, config.data().task());
        assertEquals(config, TrainConfig.load("", List.of()));
    }

    @Test
    void shouldApplyYamlThenOverridesInOrder() {
        String yaml = """
                algorithm:
                  adv_estimator: rloo
                  kl_ctrl:
                    kl_coef: 0.02
                actor_rollout_ref:
                  rollout:
                    n: 4
                  actor:
                    optim:
                      lr: 1e-6
                trainer:
                  total_training_steps: 7
                """;
        TrainConfig config = TrainConfig.load(yaml,
                List.of("algorithm.adv_estimator=grpo", "trainer.total_training_steps=50",
                        "trainer.total_training_steps=60", "actor_rollout_ref.actor.use_kl_loss=true"));

        assertEquals(AdvantageEstimator.GRPO, config.algorithm().advEstimator());
        assertEquals(60, config.trainer().totalTrainingSteps());
        assertEquals(0.02, config.algorithm().klCtrl().klCoef());
        assertEquals(4, config.actorRolloutRef().rollout().n());
        assertEquals(1e-6, config.actorRolloutRef().actor().optim().lr());
        assertTrue(config.actorRolloutRef().actor().useKlLoss());
        assertEquals(ConfigDefaults.CRITIC_LR, config.critic().optim().lr());
        assertEquals(60, config.value("trainer.total_training_steps"));
        assertEquals("grpo", config.value("algorithm.adv_estimator"));
    }

    @Test
    void shouldNameTheClosestKeyForAnUnknownOverride() {
        assertEquals("unknown config key: key=algorithm.adv_estimatr, closest=algorithm.adv_estimator",
                message("", "algorithm.adv_estimatr=grpo"));
        assertEquals("unknown config key: key=trainer.total_steps, closest=trainer.total_training_steps",
                message("", "trainer.total_steps=50"));
    }

    @Test
    void shouldNameTheClosestKeyForAnUnknownYamlKeyInsideAMisspeltSection() {
        assertEquals("unknown config key: key=algorthm.gamma, closest=algorithm.gamma",
                message("algorthm:\n  gamma: 0.9\n"));
        assertEquals("unknown config key: key=critic.optim.lr_warmup_step, closest=critic.optim.lr_warmup_steps",
                message("critic:\n  optim:\n    lr_warmup_step: 3\n"));
    }

    @Test
    void shouldNameKeyValueAndExpectedTypeForIllTypedValues() {
        assertEquals("ill-typed config value: key=trainer.total_training_steps, value=abc, expected=integer",
                message("", "trainer.total_training_steps=abc"));
        assertEquals("ill-typed config value: key=algorithm.gamma, value=high, expected=number",
                message("algorithm:\n  gamma: high\n"));
        assertEquals("ill-typed config value: key=actor_rollout_ref.actor.use_kl_loss, value=yes please, "
                + "expected=boolean (true or false)", message("", "actor_rollout_ref.actor.use_kl_loss=yes please"));
        assertEquals("ill-typed config value: key=algorithm.adv_estimator, value=ppo2, expected=one of [gae, grpo, "
                + "remax, rloo, reinforce_plus_plus, reinforce_plus_plus_baseline, safe_rlhf]",
                message("", "algorithm.adv_estimator=ppo2"));
        assertEquals("ill-typed config value: key=data.seed, value={a=1}, expected=integer",
                message("data:\n  seed:\n    a: 1\n"));
    }

    @Test
    void shouldRejectAScalarWhereASectionBelongsAndMalformedOverrides() {
        assertEquals("config key is a section, not a value: key=algorithm, value=3", message("algorithm: 3\n"));
        assertEquals("config key is a section, not a value: key=algorithm.kl_ctrl",
                message("", "algorithm.kl_ctrl=1"));
        assertEquals("override is not key=value: override=trainer.seed", message("", "trainer.seed"));
        assertEquals("config YAML must be a mapping of sections: document=[1, 2]", message("[1, 2]\n"));
    }

    @Test
    void shouldRefuseArbitraryTypeTagsAndDuplicateKeys() {
        String tagged = message("trainer: !!java.io.File [\"x\"]\n");
        assertTrue(tagged.startsWith("malformed config YAML: Global tag is not allowed: tag:yaml.org,2002:java.io.File"),
                tagged);
        String duplicate = message("trainer:\n  seed: 1\n  seed: 2\n");
        assertTrue(duplicate.startsWith("malformed config YAML: while constructing a mapping"), duplicate);
        assertTrue(duplicate.contains("found duplicate key seed"), duplicate);
    }

    @Test
    void shouldNameValuesWhenARangeOrCrossFieldRuleFails() {
        assertEquals("config value out of range: key=actor_rollout_ref.rollout.top_p, value=1.5, "
                + "expected=in (0.0, 1.0]", message("", "actor_rollout_ref.rollout.top_p=1.5"));
        assertEquals("config value out of range: key=trainer.save_freq, value=0, expected=-1 or >= 1",
                message("", "trainer.save_freq=0"));
        assertEquals("config value out of range: key=trainer.inline_limit_bytes, value=-1, expected=>= 0",
                message("", "trainer.inline_limit_bytes=-1"));
        assertEquals("config value out of range: key=actor_rollout_ref.rollout.max_num_seqs, value=0, expected=>= 1",
                message("", "actor_rollout_ref.rollout.max_num_seqs=0"));
        assertEquals("actor_rollout_ref.actor.ppo_mini_batch_size must divide data.train_batch_size: "
                + "actor_rollout_ref.actor.ppo_mini_batch_size=12, data.train_batch_size=128",
                message("", "actor_rollout_ref.actor.ppo_mini_batch_size=12"));
        assertEquals("parallel.world_size must equal p*t*d of parallel.training: parallel.world_size=8, "
                + "parallel.training=1-2-2, p*t*d=4", message("", "parallel.world_size=8"));
        assertEquals("algorithm.adv_estimator=grpo needs actor_rollout_ref.rollout.n >= 2: "
                + "actor_rollout_ref.rollout.n=1", message("", "algorithm.adv_estimator=grpo"));
        assertEquals("invalid parallel layouts: parallel.training=1-2-2, parallel.generation=1-1-4: micro-DP size "
                + "must be (p*t)/(p_g*t_g): p=1, t=2, p_g=1, t_g=1, d_g=4, expected d_g=2",
                message("", "parallel.generation=1-1-4"));
        assertEquals("data.task=custom needs data.train_files: data.train_files=''", message("", "data.task=custom"));
        assertEquals("data-parallel size d must divide actor_rollout_ref.actor.ppo_micro_batch_size: d=2, "
                + "actor_rollout_ref.actor.ppo_micro_batch_size=1",
                message("", "actor_rollout_ref.actor.ppo_micro_batch_size=1"));
        assertEquals("trainer.experiment_name must be a plain folder name: trainer.experiment_name=a/b",
                message("", "trainer.experiment_name=a/b"));
        assertEquals("trainer.jvm_options takes JVM options, each starting with '-': option=8g, "
                + "trainer.jvm_options=-Xmx 8g", message("", "trainer.jvm_options=-Xmx 8g"));
        assertEquals(List.of("-Xmx8g", "-XX:+UseZGC"), TrainConfig.load("",
                List.of("trainer.jvm_options= -Xmx8g \t -XX:+UseZGC ")).trainer().jvmOptionList());
        assertEquals(List.of(), TrainConfig.defaults().trainer().jvmOptionList());
        // t=4 over 2 KV heads replicates each head on 2 ranks; 3 KV heads fit t=2 neither way
        assertEquals(4, TrainConfig.load("", List.of("parallel.world_size=4", "parallel.training=1-4-1",
                "parallel.generation=1-2-2-1")).parallel().layout().train().t());
        assertEquals("tensor-parallel size t and actor_rollout_ref.model.num_key_value_heads must divide one another: "
                + "tensor-parallel size t=2, actor_rollout_ref.model.num_key_value_heads=3",
                message("", "actor_rollout_ref.model.num_key_value_heads=3", "actor_rollout_ref.model.num_attention_heads=6",
                        "actor_rollout_ref.model.hidden_size=48"));
    }

    @Test
    void shouldAcceptASplitPlacementWhoseRanksAddUp() {
        TrainConfig config = TrainConfig.load("", List.of("placement.mode=split", "placement.rollout_world_size=2",
                "parallel.world_size=6"));

        assertEquals(PlacementMode.SPLIT, config.placement().mode());
        assertEquals("parallel.world_size must equal p*t*d of parallel.training plus placement.rollout_world_size "
                + "with placement.mode=split: parallel.world_size=4, p*t*d=4, placement.rollout_world_size=2",
                message("", "placement.mode=split", "placement.rollout_world_size=2"));
    }

    @Test
    void shouldReloadItsOwnYamlToAnEqualConfig() {
        TrainConfig config = TrainConfig.load("", List.of("algorithm.adv_estimator=safe_rlhf",
                "actor_rollout_ref.actor.optim.lr=3.5e-5", "trainer.experiment_name=123", "trainer.resume_mode=disable",
                "actor_rollout_ref.actor.loss_agg_mode=seq-mean-token-mean", "algorithm.kl_ctrl.type=adaptive",
                "trainer.runs_dir=out/runs with space", "algorithm.norm_adv_by_std_in_grpo=false"));

        String yaml = config.toYaml();
        TrainConfig reloaded = TrainConfig.load(yaml, List.of());

        assertEquals(config, reloaded);
        assertEquals("123", reloaded.trainer().experimentName());
        assertTrue(yaml.startsWith("data:\n  task: addition\n"), yaml);
        assertTrue(yaml.contains("\n  adv_estimator: safe_rlhf\n"), yaml);
        assertFalse(config.equals(TrainConfig.defaults()));
    }

    @Test
    void shouldMapTheResumeFlagOntoVerlsResumeKeys() {
        TrainConfig fromPath = TrainConfig.load("", ResumeMode.cliOverrides("runs/a/checkpoints/global_step_4"));

        assertEquals(ResumeMode.RESUME_PATH, fromPath.trainer().resumeMode());
        assertEquals("runs/a/checkpoints/global_step_4", fromPath.trainer().resumeFromPath());
        assertEquals(ResumeMode.DISABLE, TrainConfig.load("", ResumeMode.cliOverrides("none")).trainer().resumeMode());
        assertEquals(ResumeMode.AUTO, TrainConfig.load("", ResumeMode.cliOverrides("auto")).trainer().resumeMode());
        assertEquals("--resume needs auto, none or a checkpoint folder: resume=' '",
                assertThrows(ConfigException.class, () -> ResumeMode.cliOverrides(" ")).getMessage());
    }

    @Test
    void shouldFollowVerlsLearningRateSchedules() {
        TrainConfig.Optim constant = new TrainConfig.Optim(0.1, 0.0, 4, WarmupStyle.CONSTANT, 0.0);
        TrainConfig.Optim cosine = new TrainConfig.Optim(0.1, 0.0, 2, WarmupStyle.COSINE, 0.2);

        assertEquals(0.0, constant.lrAt(0, 100));
        assertEquals(0.1 * 2 / 4, constant.lrAt(2, 100));
        assertEquals(0.1, constant.lrAt(4, 100));
        assertEquals(0.1, constant.lrAt(99, 100));
        assertEquals(0.1, new TrainConfig.Optim(0.1, 0.0, 0, WarmupStyle.CONSTANT, 0.0).lrAt(0, 100));
        // cosine: warm-up from 0.2*lr; after it, progress p = (step-2)/(10-2); lr*(0.4*cos(pi*p) + 0.6)
        assertEquals(0.1 * (0.2 + 0.8 * 1 / 2), cosine.lrAt(1, 10), 1e-15);
        assertEquals(0.1, cosine.lrAt(2, 10), 1e-15);
        assertEquals(0.1 * (0.4 * Math.cos(Math.PI * 0.5) + 0.6), cosine.lrAt(6, 10), 1e-15);
        assertEquals(0.1 * 0.2, cosine.lrAt(10, 10), 1e-15);
        assertEquals("learning-rate step outside the schedule: step=-1, totalSteps=10",
                assertThrows(IllegalArgumentException.class, () -> cosine.lrAt(-1, 10)).getMessage());
    }

    @Test
    void shouldMeasureEditDistanceAsLevenshtein() {
        assertEquals(3, ConfigSchema.editDistance("kitten", "sitting"));
        assertEquals(0, ConfigSchema.editDistance("gae", "gae"));
        assertEquals(3, ConfigSchema.editDistance("", "abc"));
    }
}
