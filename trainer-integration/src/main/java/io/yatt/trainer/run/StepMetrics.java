package io.yatt.trainer.run;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The metrics of one step, in the order they were recorded.
 *
 * @param step the global step (1-based)
 * @param values metric name to value; unmodifiable
 */
public record StepMetrics(long step, Map<String, Double> values) {

    /** Copies {@code values}, keeping their order. */
    public StepMetrics {
        values = Collections.unmodifiableMap(new LinkedHashMap<>(values));
    }

    /** The value of {@code name}, or NaN when the step did not record it. */
    public double value(String name) {
        Double value = values.get(name);
        return value == null ? Double.NaN : value;
    }
}
