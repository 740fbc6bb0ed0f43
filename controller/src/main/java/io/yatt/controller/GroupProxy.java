package io.yatt.controller;

import io.yatt.controller.internal.runtime.Batches;
import java.lang.reflect.InvocationHandler;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.lang.reflect.ParameterizedType;
import java.lang.reflect.Proxy;
import java.lang.reflect.Type;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.Future;

/**
 * The invocation handler behind {@link WorkerGroup#proxy}: an interface method calls the group's worker method of the
 * same name, blocking or as a future after its return type, and casts the collected result to that type. Immutable.
 */
final class GroupProxy implements InvocationHandler {

    /** How one interface method calls: async or blocking, and the class its result must be an instance of. */
    private record Call(String name, boolean async, Class<?> resultType, String expected) {
    }

    private final WorkerGroup group;
    private final Class<?> api;
    /** By signature: a method inherited from two superinterfaces may reach the handler as either's. */
    private final Map<String, Call> calls;

    private GroupProxy(WorkerGroup group, Class<?> api, Map<String, Call> calls) {
        this.group = group;
        this.api = api;
        this.calls = calls;
    }

    /**
     * A proxy of {@code api} over {@code group}, whose workers serve {@code served} with the signatures
     * {@code signatures} checks.
     *
     * @throws IllegalArgumentException as listed on {@link WorkerGroup#proxy}
     */
    static <T> T create(WorkerGroup group, Class<T> api, Set<String> served, ProxySignatures signatures) {
        Objects.requireNonNull(api, "api");
        if (!api.isInterface() || api.isAnnotation()) {
            throw new IllegalArgumentException("proxy type must be an interface: type=" + api.getName());
        }
        if (api.getTypeParameters().length > 0) {
            throw new IllegalArgumentException("proxy interface must not be generic: interface=" + api.getName()
                    + ", typeParameters=" + Arrays.stream(api.getTypeParameters()).map(Type::getTypeName).toList());
        }
        Map<String, List<Method>> byName = new HashMap<>();
        Map<String, Method> bySignature = new HashMap<>();
        for (Method m : api.getMethods()) {
            if (Modifier.isStatic(m.getModifiers()) || isObjectMethod(m)) {
                continue;
            }
            if (m.isDefault()) {
                throw new IllegalArgumentException("proxy interface must not have default methods: interface="
                        + api.getName() + ", method=" + m.getName());
            }
            if (m.getTypeParameters().length > 0) {
                throw new IllegalArgumentException("proxy method must not be generic: interface=" + api.getName()
                        + ", method=" + m.getName() + ", typeParameters="
                        + Arrays.stream(m.getTypeParameters()).map(Type::getTypeName).toList());
            }
            Class<?> returned = m.getReturnType();
            if (returned != CompletableFuture.class
                    && (Future.class.isAssignableFrom(returned) || CompletionStage.class.isAssignableFrom(returned))) {
                throw new IllegalArgumentException("proxy method returns a future that is not a CompletableFuture: "
                        + "interface=" + api.getName() + ", method=" + m.getName() + ", returnType="
                        + returned.getName());
            }
            // the same signature inherited through two superinterfaces is one method
            if (bySignature.putIfAbsent(signature(m), m) == null) {
                byName.computeIfAbsent(m.getName(), k -> new ArrayList<>()).add(m);
            }
        }
        Set<String> overloaded = new TreeSet<>();
        Set<String> missing = new TreeSet<>();
        for (Map.Entry<String, List<Method>> e : byName.entrySet()) {
            if (e.getValue().size() > 1) {
                overloaded.add(e.getKey());
            }
            if (!served.contains(e.getKey())) {
                missing.add(e.getKey());
            }
        }
        if (!overloaded.isEmpty()) {
            throw new IllegalArgumentException("proxy interface overloads method names (a worker method is identified"
                    + " by its name): interface=" + api.getName() + ", methods=" + overloaded);
        }
        if (!missing.isEmpty()) {
            throw new IllegalArgumentException("proxy methods not served by the group: group=" + group.role()
                    + ", interface=" + api.getName() + ", methods=" + missing + ", served=" + new TreeSet<>(served));
        }
        Map<String, Call> calls = new HashMap<>();
        // checked in name order, so that the first mismatch reported does not depend on hash order
        List<Method> methods = new ArrayList<>(bySignature.values());
        methods.sort(Comparator.comparing(Method::getName));
        for (Method m : methods) {
            boolean async = m.getReturnType() == CompletableFuture.class;
            Class<?> resultType = async ? futureValueType(m) : wrap(m.getReturnType());
            signatures.check(api, m, resultType, !async && m.getReturnType().isPrimitive());
            calls.put(signature(m), new Call(m.getName(), async, resultType,
                    async ? resultType.getName() : m.getReturnType().getName()));
        }
        Object proxy = Proxy.newProxyInstance(api.getClassLoader(), new Class<?>[] {api},
                new GroupProxy(group, api, Map.copyOf(calls)));
        return api.cast(proxy);
    }

    private static String signature(Method m) {
        return m.getName() + Arrays.toString(m.getParameterTypes());
    }

    private static boolean isObjectMethod(Method m) {
        return switch (m.getName()) {
            case "toString", "hashCode" -> m.getParameterCount() == 0;
            case "equals" -> m.getParameterCount() == 1 && m.getParameterTypes()[0] == Object.class;
            default -> false;
        };
    }

    /** The class a {@code CompletableFuture<X>} method's results must be instances of: X's class, else Object. */
    private static Class<?> futureValueType(Method m) {
        if (m.getGenericReturnType() instanceof ParameterizedType future) {
            Type value = future.getActualTypeArguments()[0];
            if (value instanceof Class<?> c) {
                return c;
            }
            if (value instanceof ParameterizedType p && p.getRawType() instanceof Class<?> raw) {
                return raw;
            }
        }
        return Object.class;
    }

    private static Class<?> wrap(Class<?> type) {
        if (!type.isPrimitive()) {
            return type;
        }
        return switch (type.getName()) {
            case "boolean" -> Boolean.class;
            case "byte" -> Byte.class;
            case "short" -> Short.class;
            case "char" -> Character.class;
            case "int" -> Integer.class;
            case "long" -> Long.class;
            case "float" -> Float.class;
            case "double" -> Double.class;
            default -> Void.class;
        };
    }

    @Override
    public Object invoke(Object proxy, Method method, Object[] args) {
        if (method.getDeclaringClass() == Object.class) {
            return switch (method.getName()) {
                case "toString" -> "WorkerGroup proxy: interface=" + api.getName() + ", group=" + group.role();
                case "hashCode" -> System.identityHashCode(proxy);
                default -> proxy == args[0];
            };
        }
        Call call = calls.get(signature(method));
        Object[] callArgs = args == null ? new Object[0] : args;
        if (!call.async()) {
            Object result = group.call(call.name(), callArgs);
            return cast(call, result, method.getReturnType().isPrimitive());
        }
        CompletableFuture<Object> raw = group.callAsync(call.name(), callArgs);
        CompletableFuture<Object> typed = new CompletableFuture<>();
        raw.whenComplete((v, e) -> {
            if (e != null) {
                // held as the call's own future holds it, so both report failures alike
                typed.completeExceptionally(e instanceof CompletionException ? e : new CompletionException(e));
                return;
            }
            Object value;
            try {
                value = cast(call, v, false);
            } catch (ClassCastException mismatch) {
                typed.completeExceptionally(new CompletionException(mismatch));
                return;
            }
            if (!typed.complete(value)) {
                // cancelled meanwhile: nobody will read the result
                Batches.close(value);
            }
        });
        typed.whenComplete((v, e) -> {
            if (e instanceof CancellationException && !raw.isDone()) {
                raw.cancel(true);
            }
        });
        group.trackDerived(typed, raw);
        return typed;
    }

    /**
     * {@code result} as the call's declared type; a {@code void} call drops it (closing the batches it holds), and so
     * does a mismatch, which fails naming the method, the expected and the actual type.
     */
    private Object cast(Call call, Object result, boolean primitive) {
        if (call.resultType() == Void.class) {
            Batches.close(result);
            return null;
        }
        if (result == null ? primitive : !call.resultType().isInstance(result)) {
            Batches.close(result);
            throw new ClassCastException("proxy result type mismatch: group=" + group.role() + ", method="
                    + call.name() + ", expected=" + call.expected() + ", actual="
                    + (result == null ? "null" : result.getClass().getName()));
        }
        return result;
    }
}
