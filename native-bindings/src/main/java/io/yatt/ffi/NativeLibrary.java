package io.yatt.ffi;

import java.lang.foreign.SymbolLookup;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Objects;
import java.util.Optional;

/**
 * A native library that was found and loaded (for the life of the JVM), with the search that found
 * it. Immutable and safe to share between threads.
 *
 * @param spec what was searched for
 * @param path the file that was loaded (absolute)
 * @param foundBy the search step that found it, e.g. {@code environment YATT_NCCL_LIBRARY}
 * @param lookup symbol lookup over the loaded library
 * @param searchReport one line per step of the search, in order
 * @param includeDirs folders that may hold the library's C headers, best first
 */
public record NativeLibrary(LibrarySpec spec, Path path, String foundBy, SymbolLookup lookup,
        List<String> searchReport, List<Path> includeDirs) {

    /** Validates and copies the fields. */
    public NativeLibrary {
        Objects.requireNonNull(spec, "spec");
        Objects.requireNonNull(path, "path");
        Objects.requireNonNull(foundBy, "foundBy");
        Objects.requireNonNull(lookup, "lookup");
        searchReport = List.copyOf(searchReport);
        includeDirs = List.copyOf(includeDirs);
    }

    /**
     * Finds a C header shipped with this library, e.g. {@code nccl.h} in {@code ../include} next to
     * {@code lib/libnccl.so.2}, or {@code driver_types.h} in the CUDA toolkit's include folder.
     *
     * @param fileName header file name, e.g. {@code nccl.h}
     * @return the header, or empty when no include folder holds it
     */
    public Optional<Path> header(String fileName) {
        for (Path dir : includeDirs) {
            Path candidate = dir.resolve(fileName);
            if (Files.isRegularFile(candidate)) {
                return Optional.of(candidate);
            }
        }
        return Optional.empty();
    }

    /** Include folders implied by a library file: {@code ../include} of the path and of its real path. */
    static List<Path> includeDirsOf(Path library, List<Path> extra) {
        LinkedHashSet<Path> dirs = new LinkedHashSet<>();
        addInclude(dirs, library);
        try {
            addInclude(dirs, library.toRealPath());
        } catch (java.io.IOException e) {
            // the file vanished after loading; the unresolved path is still a fair guess
        }
        dirs.addAll(extra);
        return new ArrayList<>(dirs);
    }

    private static void addInclude(LinkedHashSet<Path> dirs, Path library) {
        Path libDir = library.toAbsolutePath().getParent();
        if (libDir != null && libDir.getParent() != null) {
            dirs.add(libDir.getParent().resolve("include"));
        }
    }
}
