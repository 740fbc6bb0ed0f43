package io.yatt.trainer.config;

/** A closed set of values written in configs under a fixed name (e.g. {@code grpo}); implemented by enums. */
public interface ConfigChoice {

    /** The name users write in YAML and overrides. */
    String configName();

    /**
     * The constant whose {@link #configName()} is {@code name}.
     *
     * @throws ConfigException if no constant has that name
     */
    static <E extends Enum<E> & ConfigChoice> E of(E[] values, String key, String name) {
        for (E value : values) {
            if (value.configName().equals(name)) {
                return value;
            }
        }
        throw new ConfigException("ill-typed config value: key=" + key + ", value=" + name + ", expected=one of "
                + names(values));
    }

    /** The config names of {@code values}, in declaration order. */
    static java.util.List<String> names(ConfigChoice[] values) {
        java.util.List<String> names = new java.util.ArrayList<>(values.length);
        for (ConfigChoice value : values) {
            names.add(value.configName());
        }
        return java.util.List.copyOf(names);
    }
}
