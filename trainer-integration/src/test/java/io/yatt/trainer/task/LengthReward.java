package io.yatt.trainer.task;

import java.util.Map;

/** Test fixture: a user reward class found by name; scores the response length plus meta "bonus" if present. */
public final class LengthReward implements RewardFunction {

    /** Needed by the no-arg loading path. */
    public LengthReward() {
    }

    @Override
    public double score(String prompt, String response, Map<String, Object> meta) {
        Object bonus = meta.get("bonus");
        return response.length() + (bonus instanceof Number n ? n.doubleValue() : 0.0);
    }
}
