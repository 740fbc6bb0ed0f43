package io.yatt.controller;

import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;

/**
 * Marks a method a worker serves, with the dispatch mode its callers use; read once by
 * {@link WorkerMethods#annotated(Object, java.lang.invoke.MethodHandles.Lookup)}.
 */
@Retention(RetentionPolicy.RUNTIME)
@Target(ElementType.METHOD)
public @interface WorkerMethod {

    /** The dispatch mode's name, for example {@code ONE_TO_ALL}. */
    String dispatch();

    /** The name callers use; the Java method's name when empty. */
    String name() default "";

    /** The thread that runs the method (default the worker's calls thread; see {@link Execution#AGENT}). */
    Execution execution() default Execution.CALL_THREAD;
}
