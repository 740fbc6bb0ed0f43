package io.yatt.trainer.config;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.yaml.snakeyaml.DumperOptions;
import org.yaml.snakeyaml.LoaderOptions;
import org.yaml.snakeyaml.Yaml;
import org.yaml.snakeyaml.constructor.SafeConstructor;
import org.yaml.snakeyaml.error.YAMLException;
import org.yaml.snakeyaml.representer.Representer;

/** YAML (SnakeYAML's SafeConstructor: plain maps, lists and scalars, no arbitrary types) to {@link TrainConfig}. */
final class ConfigLoader {

    private ConfigLoader() {
    }

    static TrainConfig load(String yaml, List<String> overrides) {
        Map<String, Object> values = ConfigSchema.defaultValues();
        Object document;
        try {
            document = newYaml().load(yaml);
        } catch (YAMLException e) {
            throw new ConfigException("malformed config YAML: " + e.getMessage().replace('\n', ' '), e);
        }
        if (document != null) {
            if (!(document instanceof Map<?, ?> root)) {
                throw new ConfigException("config YAML must be a mapping of sections: document=" + document);
            }
            merge("", root, values);
        }
        return apply(values, overrides);
    }

    static TrainConfig apply(Map<String, Object> values, List<String> overrides) {
        for (String override : overrides) {
            int eq = override.indexOf('=');
            if (eq <= 0) {
                throw new ConfigException("override is not key=value: override=" + override);
            }
            String name = override.substring(0, eq).trim();
            ConfigSchema.Key key = ConfigSchema.requireKey(name);
            values.put(name, key.type().convert(name, override.substring(eq + 1)));
        }
        return ConfigSchema.build(values);
    }

    private static void merge(String prefix, Map<?, ?> map, Map<String, Object> values) {
        for (Map.Entry<?, ?> entry : map.entrySet()) {
            String name = prefix + entry.getKey();
            Object raw = entry.getValue();
            if (ConfigSchema.isSection(name)) {
                if (raw == null) {
                    continue;
                }
                if (!(raw instanceof Map<?, ?> section)) {
                    throw new ConfigException("config key is a section, not a value: key=" + name + ", value=" + raw);
                }
                merge(name + ".", section, values);
            } else if (raw instanceof Map<?, ?> nested && !nested.isEmpty() && !ConfigSchema.isKey(name)) {
                // An unknown section: report its leaves, whose closest valid key is the useful hint.
                merge(name + ".", nested, values);
            } else {
                ConfigSchema.Key key = ConfigSchema.requireKey(name);
                values.put(name, key.type().convert(name, raw));
            }
        }
    }

    static String dump(TrainConfig config) {
        Map<String, Object> root = new LinkedHashMap<>();
        for (Map.Entry<String, Object> entry : ConfigSchema.values(config).entrySet()) {
            String[] parts = entry.getKey().split("\\.");
            Map<String, Object> node = root;
            for (int i = 0; i < parts.length - 1; i++) {
                @SuppressWarnings("unchecked")
                Map<String, Object> child = (Map<String, Object>) node.computeIfAbsent(parts[i],
                        p -> new LinkedHashMap<String, Object>());
                node = child;
            }
            node.put(parts[parts.length - 1], entry.getValue());
        }
        return newYaml().dump(root);
    }

    private static Yaml newYaml() {
        LoaderOptions loaderOptions = new LoaderOptions();
        loaderOptions.setAllowDuplicateKeys(false);
        loaderOptions.setAllowRecursiveKeys(false);
        loaderOptions.setMaxAliasesForCollections(10);
        DumperOptions dumperOptions = new DumperOptions();
        dumperOptions.setDefaultFlowStyle(DumperOptions.FlowStyle.BLOCK);
        dumperOptions.setIndent(2);
        dumperOptions.setSplitLines(false);
        return new Yaml(new SafeConstructor(loaderOptions), new Representer(dumperOptions), dumperOptions,
                loaderOptions);
    }
}
