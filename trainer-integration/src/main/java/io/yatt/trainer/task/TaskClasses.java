package io.yatt.trainer.task;

import java.lang.reflect.InvocationTargetException;
import java.util.ServiceLoader;

/**
 * Finds a user's reward or cost class by name: first among the {@link ServiceLoader} providers of the interface, then
 * by one {@link Class#forName} and its public no-arg constructor. Runs once per run, from user configuration.
 */
final class TaskClasses {

    private TaskClasses() {
    }

    static <T> T load(String kind, String className, Class<T> type, ClassLoader loader) {
        for (ServiceLoader.Provider<T> provider : ServiceLoader.load(type, loader).stream().toList()) {
            if (provider.type().getName().equals(className)) {
                return provider.get();
            }
        }
        Class<?> found;
        try {
            found = Class.forName(className, false, loader);
        } catch (ClassNotFoundException e) {
            throw new IllegalArgumentException(kind + " class not found on the class path: class=" + className, e);
        }
        if (!type.isAssignableFrom(found)) {
            throw new IllegalArgumentException(kind + " class does not implement " + type.getName() + ": class="
                    + className);
        }
        try {
            return type.cast(found.getConstructor().newInstance());
        } catch (NoSuchMethodException | IllegalAccessException e) {
            throw new IllegalArgumentException(kind + " class has no public no-arg constructor: class=" + className, e);
        } catch (InstantiationException e) {
            throw new IllegalArgumentException(kind + " class cannot be instantiated: class=" + className, e);
        } catch (InvocationTargetException e) {
            throw new IllegalArgumentException(kind + " class constructor failed: class=" + className + ", error="
                    + e.getCause(), e.getCause());
        }
    }
}
