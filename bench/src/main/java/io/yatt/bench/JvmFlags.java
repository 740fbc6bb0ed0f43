package io.yatt.bench;

import java.util.ArrayList;
import java.util.List;

/** JVM flags every JMH fork needs, as constants usable in {@code @Fork(jvmArgsAppend = ...)}. */
public final class JvmFlags {
    /** FFM downcalls without the restricted-method warning. */
    public static final String NATIVE_ACCESS = "--enable-native-access=ALL-UNNAMED";
    /** JMH's own use of sun.misc.Unsafe on JDK 25. */
    public static final String UNSAFE_ACCESS = "--sun-misc-unsafe-memory-access=allow";
    /** Agrona/Aeron need jdk.internal.misc (the flag and its value are two arguments). */
    public static final String ADD_EXPORTS = "--add-exports";
    /** Value of {@link #ADD_EXPORTS}. */
    public static final String INTERNAL_MISC = "java.base/jdk.internal.misc=ALL-UNNAMED";

    /** Every flag above, in order, for JVMs a launcher starts itself (shm rank processes). */
    public static final List<String> ALL = List.of(NATIVE_ACCESS, ADD_EXPORTS, INTERNAL_MISC, UNSAFE_ACCESS);

    /**
     * {@link #ALL} followed by {@code extra} (e.g. a GC choice).
     *
     * @param extra further flags
     * @return the flags for a rank process
     */
    public static List<String> withExtra(String... extra) {
        List<String> flags = new ArrayList<>(ALL);
        flags.addAll(List.of(extra));
        return List.copyOf(flags);
    }

    private JvmFlags() {
    }
}
