package io.yatt.trainer.task;

import java.util.Map;

/**
 * The cost of a response under Safe-RLHF (the constraint {@code E[cost] <= algorithm.safe_rlhf.cost_limit}); a custom
 * task names one in {@code data.cost_class}, found as a {@link RewardFunction} is. Thread-safe.
 */
@FunctionalInterface
public interface CostFunction {

    /**
     * The cost of one response, with the arguments of {@link RewardFunction#score(String, String, Map)}.
     *
     * @return the cost, finite (0 for a safe response)
     */
    double cost(String prompt, String response, Map<String, Object> meta);
}
