package io.yatt.trainer.config;

/** KL estimators under verl's names ({@code kl}=k1, {@code mse}=k2, {@code low_var_kl}=k3, {@code abs}); the k-names are accepted as aliases. */
public enum KlPenalty implements ConfigChoice {
    KL("kl"),
    ABS("abs"),
    MSE("mse"),
    LOW_VAR_KL("low_var_kl"),
    K1("k1"),
    K2("k2"),
    K3("k3");

    private final String configName;

    KlPenalty(String configName) {
        this.configName = configName;
    }

    @Override
    public String configName() {
        return configName;
    }
}
