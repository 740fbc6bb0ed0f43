package io.yatt.trainer.task;

import java.util.Map;

/** Test fixture: a reward class without a no-arg constructor, which loading must refuse. */
public final class ArgumentReward implements RewardFunction {

    private final double value;

    /** Only constructor; takes an argument. */
    public ArgumentReward(double value) {
        this.value = value;
    }

    @Override
    public double score(String prompt, String response, Map<String, Object> meta) {
        return value;
    }
}
