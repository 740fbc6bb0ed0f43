package io.yatt.controller;

import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;

/**
 * A worker's method table, built once at start-up from explicit registrations or from {@link WorkerMethod}-annotated
 * methods: each entry holds a method handle spread over an argument array, so a call is a map look-up and one
 * {@code invokeExact}, never reflection. Immutable and thread-safe.
 */
public final class WorkerMethods {

    private record Entry(String name, String dispatchMode, Execution execution, int arity, MethodHandle spread,
                         MethodType type) {
    }

    /** Java's widening primitive conversions (JLS 5.1.2), which the handles' conversion from Object applies. */
    private static final Map<Class<?>, Set<Class<?>>> WIDENING = Map.of(
            byte.class, Set.of(short.class, int.class, long.class, float.class, double.class),
            short.class, Set.of(int.class, long.class, float.class, double.class),
            char.class, Set.of(int.class, long.class, float.class, double.class),
            int.class, Set.of(long.class, float.class, double.class),
            long.class, Set.of(float.class, double.class),
            float.class, Set.of(double.class));

    private final Map<String, Entry> entries;

    private WorkerMethods(Map<String, Entry> entries) {
        this.entries = Map.copyOf(entries);
    }

    /** A builder for explicit registration. */
    public static Builder builder() {
        return new Builder();
    }

    /**
     * The table of {@code target}'s {@link WorkerMethod}-annotated instance methods (declared on its class), bound
     * to {@code target}; {@code lookup} must have access to them (pass {@code MethodHandles.lookup()}).
     *
     * @throws IllegalArgumentException if there is no annotated method, one is static or inaccessible to
     *         {@code lookup}, or two share a name
     */
    public static WorkerMethods annotated(Object target, MethodHandles.Lookup lookup) {
        Objects.requireNonNull(target, "target");
        Builder builder = new Builder();
        for (Method method : target.getClass().getDeclaredMethods()) {
            WorkerMethod annotation = method.getAnnotation(WorkerMethod.class);
            if (annotation == null) {
                continue;
            }
            String name = annotation.name().isEmpty() ? method.getName() : annotation.name();
            if (Modifier.isStatic(method.getModifiers())) {
                throw new IllegalArgumentException("worker method must not be static: class="
                        + target.getClass().getName() + ", method=" + method.getName());
            }
            MethodHandle handle;
            try {
                handle = lookup.unreflect(method).bindTo(target);
            } catch (IllegalAccessException e) {
                throw new IllegalArgumentException("worker method not accessible to the lookup: class="
                        + target.getClass().getName() + ", method=" + method.getName() + ", lookup=" + lookup, e);
            }
            builder.method(name, annotation.dispatch(), annotation.execution(), handle);
        }
        if (builder.entries.isEmpty()) {
            throw new IllegalArgumentException("no @WorkerMethod methods: class=" + target.getClass().getName());
        }
        return builder.build();
    }

    /** The names served, in no particular order. */
    public List<String> names() {
        return List.copyOf(entries.keySet());
    }

    /**
     * The dispatch mode {@code name} declared.
     *
     * @throws IllegalArgumentException if no method has that name
     */
    public String dispatchMode(String name) {
        return entry(name).dispatchMode();
    }

    /**
     * The thread {@code name} runs on.
     *
     * @throws IllegalArgumentException if no method has that name
     */
    public Execution execution(String name) {
        return entry(name).execution();
    }

    /**
     * The parameter and return types {@code name} declares (its handle's type, the receiver bound), which the worker
     * registers as the method's signature.
     *
     * @throws IllegalArgumentException if no method has that name
     */
    public MethodType type(String name) {
        return entry(name).type();
    }

    /** Whether a method of that name is served. */
    public boolean contains(String name) {
        return entries.containsKey(name);
    }

    /**
     * Runs {@code name} with {@code args}; a void method returns null.
     *
     * @throws IllegalArgumentException if no method has that name, the argument count differs from its arity, or an
     *     argument does not convert to its parameter's type (boxed primitives widen as in a Java call; null only for a
     *     reference parameter)
     * @throws Throwable whatever the method throws
     */
    public Object invoke(String name, List<Object> args) throws Throwable {
        Entry entry = entry(name);
        if (args.size() != entry.arity()) {
            throw new IllegalArgumentException("argument count mismatch: method=" + name + ", expected="
                    + entry.arity() + ", actual=" + args.size());
        }
        Object[] values = args.toArray();
        for (int i = 0; i < values.length; i++) {
            Class<?> expected = entry.type().parameterType(i);
            if (!accepts(expected, values[i])) {
                throw new IllegalArgumentException("argument type mismatch: method=" + name + ", index=" + i
                        + ", expected=" + expected.getName() + ", actual="
                        + (values[i] == null ? "null" : values[i].getClass().getName()));
            }
        }
        return (Object) entry.spread().invokeExact(values);
    }

    /** Whether the handle's conversion from Object takes {@code value} for a parameter of {@code type}. */
    private static boolean accepts(Class<?> type, Object value) {
        return value == null ? !type.isPrimitive() : accepts(type, value.getClass());
    }

    /**
     * Whether the handle's conversion from Object takes a non-null value of class {@code valueClass} for a parameter
     * of {@code type}: an instance of a reference type, or for a primitive the box of that primitive or of one that
     * widens to it. The one rule for a call's arguments and for a proxy's check of its parameter types.
     */
    static boolean accepts(Class<?> type, Class<?> valueClass) {
        if (!type.isPrimitive()) {
            return type.isAssignableFrom(valueClass);
        }
        Class<?> from = unbox(valueClass);
        return from != null && (from == type || widens(from, type));
    }

    /** The primitive {@code boxed} boxes, or null. */
    static Class<?> unbox(Class<?> boxed) {
        return boxed == Boolean.class ? boolean.class
                : boxed == Byte.class ? byte.class
                : boxed == Short.class ? short.class
                : boxed == Character.class ? char.class
                : boxed == Integer.class ? int.class
                : boxed == Long.class ? long.class
                : boxed == Float.class ? float.class
                : boxed == Double.class ? double.class
                : null;
    }

    /** Whether Java widens primitive {@code from} to {@code to} (JLS 5.1.2). */
    private static boolean widens(Class<?> from, Class<?> to) {
        return WIDENING.getOrDefault(from, Set.of()).contains(to);
    }

    private Entry entry(String name) {
        Entry entry = entries.get(name);
        if (entry == null) {
            throw new IllegalArgumentException("unknown worker method: method=" + name + ", known="
                    + entries.keySet().stream().sorted().toList());
        }
        return entry;
    }

    /** Collects registrations; confined to the building thread. */
    public static final class Builder {

        private final Map<String, Entry> entries = new LinkedHashMap<>();

        private Builder() {
        }

        /**
         * Registers {@code handle} (fixed arity; bound to its receiver) as {@code name} with its dispatch mode.
         *
         * @throws IllegalArgumentException if {@code name} or {@code dispatchMode} is blank or {@code name} is taken
         */
        public Builder method(String name, String dispatchMode, MethodHandle handle) {
            return method(name, dispatchMode, Execution.CALL_THREAD, handle);
        }

        /**
         * Registers {@code handle} as {@code name} with its dispatch mode, run on the thread {@code execution} names.
         *
         * @throws IllegalArgumentException if {@code name} or {@code dispatchMode} is blank or {@code name} is taken
         */
        public Builder method(String name, String dispatchMode, Execution execution, MethodHandle handle) {
            Objects.requireNonNull(handle, "handle");
            Objects.requireNonNull(execution, "execution");
            if (name == null || name.isBlank()) {
                throw new IllegalArgumentException("worker method name must not be blank: name=" + name);
            }
            if (dispatchMode == null || dispatchMode.isBlank()) {
                throw new IllegalArgumentException("dispatch mode must not be blank: method=" + name
                        + ", dispatchMode=" + dispatchMode);
            }
            if (entries.containsKey(name)) {
                throw new IllegalArgumentException("duplicate worker method: method=" + name);
            }
            MethodHandle fixed = handle.asFixedArity();
            int arity = fixed.type().parameterCount();
            MethodHandle spread = fixed.asType(MethodType.genericMethodType(arity)).asSpreader(Object[].class, arity);
            entries.put(name, new Entry(name, dispatchMode, execution, arity, spread, fixed.type()));
            return this;
        }

        /** The table. */
        public WorkerMethods build() {
            return new WorkerMethods(new ArrayList<>(entries.values()).stream()
                    .collect(LinkedHashMap::new, (m, e) -> m.put(e.name(), e), Map::putAll));
        }
    }
}
