package io.yatt.controller;

import java.util.Objects;
import java.util.function.Function;

/**
 * A value type that call arguments and results may carry besides the built-in ones (null, Boolean, Integer, Long,
 * Double, String, byte[], float[], List, Map with String keys): it names a type id and maps its values to and from
 * built-in values. Registered explicitly on {@link ControlPlane.Context} and {@link Worker.Context}; both sides must
 * register the same types. Immutable and thread-safe if its functions are.
 *
 * @param typeId   the id on the wire, in {@code [MIN_TYPE_ID, MAX_TYPE_ID]}
 * @param javaType the exact class of the values (subclasses are not matched)
 * @param toWire   maps a value to built-in values (or other registered types)
 * @param fromWire maps what {@code toWire} produced back to a value; may throw on input it does not accept
 * @param <T> the value type
 */
public record PayloadType<T>(int typeId, Class<T> javaType, Function<? super T, ?> toWire,
                             Function<Object, ? extends T> fromWire) {

    /** Smallest type id open to registered types (lower ids are the built-in ones). */
    public static final int MIN_TYPE_ID = 64;
    /** Largest type id. */
    public static final int MAX_TYPE_ID = 255;

    /**
     * @throws IllegalArgumentException if typeId is outside {@code [MIN_TYPE_ID, MAX_TYPE_ID]}
     * @throws NullPointerException if a component is null
     */
    public PayloadType {
        Objects.requireNonNull(javaType, "javaType");
        Objects.requireNonNull(toWire, "toWire");
        Objects.requireNonNull(fromWire, "fromWire");
        if (typeId < MIN_TYPE_ID || typeId > MAX_TYPE_ID) {
            throw new IllegalArgumentException("payload type id out of range: typeId=" + typeId + ", expected="
                    + MIN_TYPE_ID + ".." + MAX_TYPE_ID);
        }
    }
}
