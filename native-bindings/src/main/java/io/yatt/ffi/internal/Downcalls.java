package io.yatt.ffi.internal;

import io.yatt.ffi.LibraryNotFoundException;
import io.yatt.ffi.LibrarySpec;
import io.yatt.ffi.NativeLibraries;
import io.yatt.ffi.NativeLibrary;
import io.yatt.ffi.YattNativeException;

import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.util.Optional;

/**
 * Links downcall handles for the raw binding classes. A symbol whose library is missing, or that the
 * library does not export, links to a handle that throws when called, so a raw class's per-symbol
 * holder never fails to initialize. Thread-safe (stateless).
 */
@SuppressWarnings("restricted")
public final class Downcalls {
    private static final Linker LINKER = Linker.nativeLinker();
    private static final MethodHandle FAILURE;

    static {
        try {
            FAILURE = MethodHandles.lookup().findStatic(Downcalls.class, "failure",
                    MethodType.methodType(Throwable.class, LibrarySpec.class, String.class));
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    private Downcalls() {
    }

    /**
     * Links one symbol of a library.
     *
     * @param spec the library
     * @param symbol the C name
     * @param descriptor the C signature
     * @param options linker options, e.g. {@link Linker.Option#critical(boolean)}
     * @return a downcall handle of type {@code descriptor.toMethodType()}; calling it throws
     *         {@link LibraryNotFoundException} or {@link YattNativeException} when the symbol is unavailable
     */
    public static MethodHandle link(LibrarySpec spec, String symbol, FunctionDescriptor descriptor, Linker.Option... options) {
        Optional<MemorySegment> address = find(spec, symbol);
        if (address.isEmpty()) {
            MethodType type = descriptor.toMethodType();
            MethodHandle thrower = MethodHandles.foldArguments(
                    MethodHandles.throwException(type.returnType(), Throwable.class),
                    MethodHandles.insertArguments(FAILURE, 0, spec, symbol));
            return MethodHandles.dropArguments(thrower, 0, type.parameterList());
        }
        return LINKER.downcallHandle(address.get(), descriptor, options);
    }

    /**
     * @param spec the library
     * @param symbol the C name
     * @return whether the library is present and exports the symbol
     */
    public static boolean available(LibrarySpec spec, String symbol) {
        return find(spec, symbol).isPresent();
    }

    private static Optional<MemorySegment> find(LibrarySpec spec, String symbol) {
        try {
            return NativeLibraries.load(spec).lookup().find(symbol);
        } catch (LibraryNotFoundException e) {
            return Optional.empty();
        }
    }

    private static Throwable failure(LibrarySpec spec, String symbol) {
        NativeLibrary library;
        try {
            library = NativeLibraries.load(spec);
        } catch (LibraryNotFoundException e) {
            return e;
        }
        return new YattNativeException("symbol not found: symbol=" + symbol + ", library=" + library.path());
    }

    /**
     * Converts what {@code invokeExact} may throw into an unchecked exception.
     *
     * @param t the failure
     * @return never returns normally; declared so call sites can write {@code throw rethrow(t)}
     */
    public static RuntimeException rethrow(Throwable t) {
        if (t instanceof RuntimeException runtime) {
            throw runtime;
        }
        if (t instanceof Error error) {
            throw error;
        }
        throw new YattNativeException("downcall failed: " + t, t);
    }
}
