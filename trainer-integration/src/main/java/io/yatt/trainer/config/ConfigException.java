package io.yatt.trainer.config;

/**
 * A configuration that cannot be used: an unknown key, an ill-typed value, a value out of range or two values that
 * do not fit together. The message names the keys and values, e.g.
 * {@code unknown config key: key=algorithm.adv_estimatr, closest=algorithm.adv_estimator}.
 */
public final class ConfigException extends IllegalArgumentException {

    private static final long serialVersionUID = 1L;

    ConfigException(String message) {
        super(message);
    }

    ConfigException(String message, Throwable cause) {
        super(message, cause);
    }
}
