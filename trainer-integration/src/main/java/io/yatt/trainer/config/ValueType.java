package io.yatt.trainer.config;

import java.util.List;
import java.util.Map;

/** The type of one config key and the conversion of YAML scalars and override strings into it. */
sealed interface ValueType {

    /** The type as named in error messages. */
    String expected();

    /**
     * The normalised value: Integer, Double, Boolean or String.
     *
     * @throws ConfigException naming key, value and {@link #expected()} if the value does not convert
     */
    Object convert(String key, Object raw);

    default ConfigException illTyped(String key, Object raw) {
        return new ConfigException("ill-typed config value: key=" + key + ", value=" + raw + ", expected="
                + expected());
    }

    /** A 32-bit integer. */
    record IntegerType() implements ValueType {
        @Override
        public String expected() {
            return "integer";
        }

        @Override
        public Object convert(String key, Object raw) {
            if (raw instanceof Integer i) {
                return i;
            }
            if (raw instanceof Long l && l == (int) (long) l) {
                return (int) (long) l;
            }
            if (raw instanceof String s) {
                try {
                    return Integer.parseInt(s.trim());
                } catch (NumberFormatException e) {
                    throw illTyped(key, raw);
                }
            }
            throw illTyped(key, raw);
        }
    }

    /** A finite double; integers are accepted. */
    record NumberType() implements ValueType {
        @Override
        public String expected() {
            return "number";
        }

        @Override
        public Object convert(String key, Object raw) {
            double value;
            if (raw instanceof Double d) {
                value = d;
            } else if (raw instanceof Integer || raw instanceof Long) {
                value = ((Number) raw).doubleValue();
            } else if (raw instanceof String s) {
                try {
                    value = Double.parseDouble(s.trim());
                } catch (NumberFormatException e) {
                    throw illTyped(key, raw);
                }
            } else {
                throw illTyped(key, raw);
            }
            if (!Double.isFinite(value)) {
                throw illTyped(key, raw);
            }
            return value;
        }
    }

    /** {@code true} or {@code false}. */
    record BooleanType() implements ValueType {
        @Override
        public String expected() {
            return "boolean (true or false)";
        }

        @Override
        public Object convert(String key, Object raw) {
            if (raw instanceof Boolean b) {
                return b;
            }
            if (raw instanceof String s) {
                String t = s.trim();
                if (t.equals("true")) {
                    return Boolean.TRUE;
                }
                if (t.equals("false")) {
                    return Boolean.FALSE;
                }
            }
            throw illTyped(key, raw);
        }
    }

    /** Any scalar, kept as text; YAML null is the empty string. */
    record StringType() implements ValueType {
        @Override
        public String expected() {
            return "string";
        }

        @Override
        public Object convert(String key, Object raw) {
            if (raw == null) {
                return "";
            }
            if (raw instanceof Map<?, ?> || raw instanceof List<?>) {
                throw illTyped(key, raw);
            }
            return raw.toString();
        }
    }

    /**
     * One of a closed list of names.
     *
     * @param names the accepted names
     */
    record ChoiceType(List<String> names) implements ValueType {
        @Override
        public String expected() {
            return "one of " + names;
        }

        @Override
        public Object convert(String key, Object raw) {
            if (raw instanceof String s && names.contains(s.trim())) {
                return s.trim();
            }
            throw illTyped(key, raw);
        }
    }
}
