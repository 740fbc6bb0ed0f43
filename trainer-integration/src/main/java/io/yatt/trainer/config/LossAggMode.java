package io.yatt.trainer.config;

/** How token losses are aggregated into one loss ({@code actor_rollout_ref.actor.loss_agg_mode}), as in verl. */
public enum LossAggMode implements ConfigChoice {
    TOKEN_MEAN("token-mean"),
    SEQ_MEAN_TOKEN_SUM("seq-mean-token-sum"),
    SEQ_MEAN_TOKEN_MEAN("seq-mean-token-mean"),
    SEQ_MEAN_TOKEN_SUM_NORM("seq-mean-token-sum-norm");

    private final String configName;

    LossAggMode(String configName) {
        this.configName = configName;
    }

    @Override
    public String configName() {
        return configName;
    }
}
