package io.yatt.controller;

import io.yatt.controller.internal.wire.Message;
import java.lang.invoke.MethodType;
import java.lang.reflect.GenericArrayType;
import java.lang.reflect.Method;
import java.lang.reflect.ParameterizedType;
import java.lang.reflect.Type;
import java.lang.reflect.WildcardType;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.Future;
import java.util.function.Function;

/**
 * The check of a proxy interface's parameter and return types against the signatures a group's workers registered,
 * through the dispatch mode of each method (docs/controller.md, "Typed proxies"). A proxy method is refused where no
 * call with non-null values could succeed: its declared types are compared by the classes that values of them arrive
 * as, after the payload codec (a {@code List} arrives as the codec's unmodifiable list, an {@code int} as an
 * {@code Integer}), and the worker's parameter takes them by {@link WorkerMethods#accepts(Class, Class)}, the rule a
 * call applies. Immutable.
 */
final class ProxySignatures {

    /** The class of a list or a map as the payload codec decodes it (and as the list modes collect results). */
    private static final Class<?> DECODED_LIST = Collections.unmodifiableList(new ArrayList<>()).getClass();
    private static final Class<?> DECODED_MAP = Collections.unmodifiableMap(new LinkedHashMap<>()).getClass();
    /** The built-in payload classes that arrive as themselves. */
    private static final List<Class<?>> BUILT_IN = List.of(Boolean.class, Integer.class, Long.class, Double.class,
            String.class, byte[].class, float[].class);
    private static final Map<String, Class<?>> PRIMITIVES = Map.of("boolean", boolean.class, "byte", byte.class,
            "short", short.class, "char", char.class, "int", int.class, "long", long.class, "float", float.class,
            "double", double.class, "void", void.class);

    /** How a built-in mode hands a caller's argument to each worker. */
    private enum Arguments {
        /** The argument itself (ONE_TO_ALL, RANK_ZERO). */
        AS_IS,
        /** Element {@code i} of a list to worker {@code i} (ALL_TO_ALL, DP_COMPUTE). */
        ELEMENT_PER_WORKER,
        /** A chunk of a DataBatch (DP_COMPUTE_PROTO, DP_COMPUTE_METRIC, MESH). */
        BATCH_CHUNK
    }

    /** What a built-in mode collects from the workers' results. */
    private enum Results {
        /** The list of the ranks' results. */
        LIST,
        /** Rank zero's result as it arrives. */
        RANK_ZERO,
        /** The concatenated DataBatch. */
        BATCH
    }

    private record Passing(Arguments arguments, Results results) {
    }

    private final String role;
    private final Map<String, String> modes;
    private final Function<String, Dispatch> dispatchModes;
    private final List<Message.Register> registrations;
    private final List<Class<?>> payloadClasses;

    /**
     * The check for group {@code role}, whose methods declared {@code modes} (resolved by {@code dispatchModes}),
     * registered by {@code registrations} (rank order), with the registered payload types' classes
     * {@code payloadClasses}.
     */
    ProxySignatures(String role, Map<String, String> modes, Function<String, Dispatch> dispatchModes,
                    List<Message.Register> registrations, List<Class<?>> payloadClasses) {
        this.role = role;
        this.modes = Map.copyOf(modes);
        this.dispatchModes = dispatchModes;
        this.registrations = List.copyOf(registrations);
        this.payloadClasses = List.copyOf(payloadClasses);
    }

    /**
     * Checks {@code m} of {@code api}, whose calls expect results of {@code resultType} ({@code Void} for void;
     * {@code primitive}: null is refused), against the signature its workers registered: nothing is checked when none
     * registered one (workers of schema version 3) or its mode is not built in.
     *
     * @throws IllegalArgumentException if workers registered different signatures, or the parameter count, a
     *         parameter type or the return type cannot match, naming the interface, the method and the types
     */
    void check(Class<?> api, Method m, Class<?> resultType, boolean primitive) {
        Optional<Message.MethodSignature> agreed = agreed(m.getName());
        String modeName = modes.get(m.getName());
        Passing passing = passing(modeName);
        if (agreed.isEmpty() || passing == null) {
            return;
        }
        Message.MethodSignature worker = agreed.get();
        String at = "group=" + role + ", interface=" + api.getName() + ", method=" + m.getName();
        Type[] declared = m.getGenericParameterTypes();
        if (declared.length != worker.parameterTypes().size()) {
            throw new IllegalArgumentException("proxy parameter count mismatch: " + at + ", expected="
                    + worker.parameterTypes().size() + ", actual=" + declared.length);
        }
        ClassLoader loader = api.getClassLoader() != null ? api.getClassLoader() : ProxySignatures.class
                .getClassLoader();
        at += ", mode=" + modeName;
        for (int i = 0; i < declared.length; i++) {
            String workerName = worker.parameterTypes().get(i);
            checkParameter(at + ", index=" + i, passing.arguments(), declared[i], workerName,
                    resolve(workerName, loader));
        }
        checkResult(at, passing.results(), m, resultType, primitive, worker.returnType(),
                resolve(worker.returnType(), loader));
    }

    private void checkParameter(String at, Arguments arguments, Type declared, String workerName, Class<?> workerType) {
        // an argument may be a future: its value is what is dispatched
        Type value = futureValue(declared);
        Class<?> valueClass = erase(value);
        switch (arguments) {
            case AS_IS -> {
                if (arrivals(valueClass).isEmpty()) {
                    throw notPayload(at, declared);
                }
                if (!reaches(valueClass, workerType)) {
                    throw mismatch(at, workerName, declared);
                }
            }
            case ELEMENT_PER_WORKER -> {
                Type element = elementType(value);
                if (holds(valueClass, List.class) && arrivals(erase(element)).isEmpty()) {
                    throw notPayload(at, declared);
                }
                if (!holds(valueClass, List.class) || !reaches(erase(element), workerType)) {
                    throw mismatch(at, "java.util.List<" + boxedName(workerName) + ">", declared);
                }
            }
            case BATCH_CHUNK -> {
                if (!valueClass.isAssignableFrom(DataBatch.class)) {
                    throw mismatch(at, DataBatch.class.getName(), declared);
                }
                if (workerType == null || !WorkerMethods.accepts(workerType, DataBatch.class)) {
                    throw new IllegalArgumentException("worker parameter type does not take the mode's argument: "
                            + at + ", expected=" + DataBatch.class.getName() + ", actual=" + workerName);
                }
            }
        }
    }

    private void checkResult(String at, Results results, Method m, Class<?> resultType, boolean primitive,
                             String workerName, Class<?> workerType) {
        if (resultType == Void.class) {
            return;
        }
        String expected = switch (results) {
            case LIST -> List.class.getName();
            case BATCH -> DataBatch.class.getName();
            case RANK_ZERO -> workerName;
        };
        boolean fits = switch (results) {
            case LIST -> resultType.isAssignableFrom(DECODED_LIST);
            case BATCH -> resultType.isAssignableFrom(DataBatch.class);
            // a void worker method answers null, which only a reference type takes
            case RANK_ZERO -> workerType == void.class ? !primitive
                    : workerType != null && arrivals(workerType).stream().anyMatch(resultType::isAssignableFrom);
        };
        if (!fits) {
            throw new IllegalArgumentException("proxy return type mismatch: " + at + ", expected=" + expected
                    + ", actual=" + m.getGenericReturnType().getTypeName());
        }
    }

    /** The signature every worker that sent one registered for {@code method} (empty if none did). */
    private Optional<Message.MethodSignature> agreed(String method) {
        Message.MethodSignature first = null;
        int firstWorker = -1;
        for (Message.Register r : registrations) {
            for (Message.MethodEntry entry : r.methods()) {
                if (!entry.name().equals(method) || entry.signature().isEmpty()) {
                    continue;
                }
                Message.MethodSignature signature = entry.signature().get();
                if (first == null) {
                    first = signature;
                    firstWorker = r.workerId();
                } else if (!first.equals(signature)) {
                    throw new IllegalArgumentException("workers disagree on a method signature: group=" + role
                            + ", method=" + method + ", signatures=" + first + "," + signature + ", workerIds="
                            + firstWorker + "," + r.workerId());
                }
            }
        }
        return Optional.ofNullable(first);
    }

    /** How the built-in mode {@code name} resolves to passes arguments and results; null for a custom mode. */
    private Passing passing(String name) {
        Dispatch dispatch;
        try {
            dispatch = dispatchModes.apply(name);
        } catch (RuntimeException unknown) {
            // the call fails with it; only the names are checked here
            return null;
        }
        if (!(dispatch instanceof DispatchModes.BuiltIn builtIn)) {
            return null;
        }
        return switch (builtIn) {
            case DispatchModes.Mode mode -> switch (mode) {
                case ONE_TO_ALL -> new Passing(Arguments.AS_IS, Results.LIST);
                case ALL_TO_ALL, DP_COMPUTE -> new Passing(Arguments.ELEMENT_PER_WORKER, Results.LIST);
                case DP_COMPUTE_PROTO -> new Passing(Arguments.BATCH_CHUNK, Results.BATCH);
                case DP_COMPUTE_METRIC -> new Passing(Arguments.BATCH_CHUNK, Results.LIST);
                case RANK_ZERO -> new Passing(Arguments.AS_IS, Results.RANK_ZERO);
            };
            case DispatchModes.Mesh mesh -> new Passing(Arguments.BATCH_CHUNK, Results.BATCH);
        };
    }

    /** Whether some non-null value of {@code declared} arrives as a class that {@code workerType} takes. */
    private boolean reaches(Class<?> declared, Class<?> workerType) {
        return workerType != null && workerType != void.class
                && arrivals(declared).stream().anyMatch(c -> WorkerMethods.accepts(workerType, c));
    }

    /**
     * The classes the non-null values of {@code declared} arrive as on the other side of the payload codec: the
     * built-in and registered payload classes it holds, the codec's list for any list and its map for any map.
     */
    private List<Class<?>> arrivals(Class<?> declared) {
        Class<?> boxed = box(declared);
        List<Class<?>> classes = new ArrayList<>();
        for (Class<?> c : BUILT_IN) {
            if (boxed.isAssignableFrom(c)) {
                classes.add(c);
            }
        }
        for (Class<?> c : payloadClasses) {
            if (boxed.isAssignableFrom(c)) {
                classes.add(c);
            }
        }
        if (holds(boxed, List.class)) {
            classes.add(DECODED_LIST);
        }
        if (holds(boxed, Map.class)) {
            classes.add(DECODED_MAP);
        }
        return classes;
    }

    /** Whether a value of {@code declared} may be a {@code kind} (a subtype or a supertype of it). */
    private static boolean holds(Class<?> declared, Class<?> kind) {
        return kind.isAssignableFrom(declared) || declared.isAssignableFrom(kind);
    }

    /** X of a {@code CompletableFuture<X>} (or Future, CompletionStage) parameter, Object if unknown; else the type. */
    private static Type futureValue(Type declared) {
        Class<?> raw = erase(declared);
        if (raw != CompletableFuture.class && raw != Future.class && raw != CompletionStage.class) {
            return declared;
        }
        return declared instanceof ParameterizedType p ? p.getActualTypeArguments()[0] : Object.class;
    }

    /** E of a parameterized list (or collection) type, Object if unknown. */
    private static Type elementType(Type list) {
        if (list instanceof ParameterizedType p && p.getActualTypeArguments().length == 1) {
            return p.getActualTypeArguments()[0];
        }
        return Object.class;
    }

    private static Class<?> erase(Type type) {
        return switch (type) {
            case Class<?> c -> c;
            case ParameterizedType p -> erase(p.getRawType());
            case WildcardType w -> erase(w.getUpperBounds()[0]);
            case GenericArrayType a -> erase(a.getGenericComponentType()).arrayType();
            // a type variable: proxy interfaces and their methods are not generic
            default -> Object.class;
        };
    }

    /** The class named {@code name} ({@link Class#getTypeName} form), or null where the controller lacks it. */
    private static Class<?> resolve(String name, ClassLoader loader) {
        int dims = 0;
        String base = name;
        while (base.endsWith("[]")) {
            base = base.substring(0, base.length() - 2);
            dims++;
        }
        Class<?> c = PRIMITIVES.get(base);
        if (c == null) {
            try {
                c = Class.forName(base, false, loader);
            } catch (ClassNotFoundException | LinkageError e) {
                return null;
            }
        }
        if (c == void.class && dims > 0) {
            return null;
        }
        for (int d = 0; d < dims; d++) {
            c = c.arrayType();
        }
        return c;
    }

    private static Class<?> box(Class<?> type) {
        return type.isPrimitive() ? MethodType.methodType(type).wrap().returnType() : type;
    }

    private static String boxedName(String name) {
        Class<?> primitive = PRIMITIVES.get(name);
        return primitive == null ? name : box(primitive).getName();
    }

    private static IllegalArgumentException notPayload(String at, Type declared) {
        return new IllegalArgumentException("proxy parameter type is not a payload type: " + at + ", type="
                + declared.getTypeName() + ", expected=Boolean, Integer, Long, Double, String, byte[], float[], List,"
                + " Map or a registered PayloadType");
    }

    private static IllegalArgumentException mismatch(String at, String expected, Type actual) {
        return new IllegalArgumentException("proxy parameter type mismatch: " + at + ", expected=" + expected
                + ", actual=" + actual.getTypeName());
    }
}
