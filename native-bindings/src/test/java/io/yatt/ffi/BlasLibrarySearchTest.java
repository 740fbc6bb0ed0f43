package io.yatt.ffi;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

class BlasLibrarySearchTest {
    @TempDir
    Path tmp;

    private LibrarySearch isolated(Map<String, String> properties, Map<String, String> environment, boolean loader) {
        return LibrarySearch.of(LibrarySpec.BLAS)
                .properties(properties)
                .environment(environment)
                .userHome(tmp.resolve("home"))
                .toolkitParents(List.of(tmp.resolve("toolkits")))
                .systemLibraryDirs(List.of(tmp.resolve("system")))
                .pythonRoots(List.of())
                .platformLoader(loader)
                .classLoader(new URLClassLoader(new URL[0], null));
    }

    @Test
    void shouldExplainHowToPointAtOpenBlasWhenNothingIsFound() {
        LibraryNotFoundException e = assertThrows(LibraryNotFoundException.class,
                () -> isolated(Map.of(), Map.of(), false).load());
        assertEquals("blas", e.library());
        assertEquals("blas library not found: looked for libopenblas.so.0, libopenblas.so, libblas.so.3; point at the"
                + " file with -Dyatt.blas.library=/path/to/libopenblas.so.0 or"
                + " YATT_BLAS_LIBRARY=/path/to/libopenblas.so.0. Steps tried:",
                e.getMessage().lines().findFirst().orElseThrow());
        assertEquals(List.of(
                "system property yatt.blas.library: not set",
                "environment YATT_BLAS_LIBRARY: not set",
                "LD_LIBRARY_PATH: not set",
                "ldconfig cache and dlopen by soname: skipped (platform loader disabled)",
                "CUDA toolkit folders: skipped (blas is not part of the toolkit)",
                "system library folder " + tmp.resolve("system") + ": no such folder",
                "python site-packages: none found under [], " + tmp.resolve("home")
                        + "/{.local,.pyenv/versions/*,miniconda3,anaconda3,miniforge3}, $VIRTUAL_ENV, $CONDA_PREFIX",
                "JavaCPP CUDA redist: no org/bytedeco/cuda/linux-x86_64/{libopenblas.so.0,libopenblas.so,libblas.so.3}"
                        + " on the class path"), e.searchReport());
    }

    @Test
    void shouldRejectAnEnvironmentFileThatIsNotALibrary() throws IOException {
        Path fake = Files.writeString(tmp.resolve("libopenblas.so.0"), "text");
        LibraryNotFoundException e = assertThrows(LibraryNotFoundException.class,
                () -> isolated(Map.of(), Map.of("YATT_BLAS_LIBRARY", fake.toString()), false).load());
        assertEquals("environment YATT_BLAS_LIBRARY=" + fake + ": rejected: not an ELF shared object"
                + " (first bytes 74657874, expected 7f454c46)", e.searchReport().get(1));
        assertEquals("blas library not usable: environment YATT_BLAS_LIBRARY=" + fake
                + " names a file that cannot be loaded; fix or unset it. Steps tried:",
                e.getMessage().lines().findFirst().orElseThrow());
    }

    @Test
    void shouldRejectAnElfLibraryWithoutCblasSgemm() throws IOException {
        // libc is an ELF shared object on every Linux machine, and exports no cblas_sgemm
        Path libc = firstExisting(Path.of("/lib/x86_64-linux-gnu/libc.so.6"), Path.of("/lib64/libc.so.6"),
                Path.of("/usr/lib64/libc.so.6"));
        assumeTrue(libc != null, "no x86-64 libc.so.6 in the standard folders");
        LibraryNotFoundException e = assertThrows(LibraryNotFoundException.class,
                () -> isolated(Map.of("yatt.blas.library", libc.toString()), Map.of(), false).load());
        assertEquals("system property yatt.blas.library=" + libc + ": rejected: loaded but has no symbol cblas_sgemm"
                + " (not a blas library)", e.searchReport().getFirst());
    }

    @Test
    void shouldFindOpenBlasThroughTheLdconfigCacheOrDlopen() {
        NativeLibrary library;
        try {
            library = isolated(Map.of(), Map.of(), true).load();
        } catch (LibraryNotFoundException e) {
            assumeTrue(false, "no CBLAS library known to the loader (install Debian's libopenblas0)");
            return;
        }
        String foundBy = library.foundBy();
        assumeTrue(!foundBy.startsWith("system library folder"), foundBy);
        assertEquals(true, foundBy.equals("ldconfig cache") || foundBy.equals("dlopen by soname"), foundBy);
        assertEquals(true, library.lookup().find("cblas_sgemm").isPresent());
    }

    @Test
    void shouldLoadTheFileNamedByThePropertyBeforeAnyOther() {
        Path found;
        try {
            found = isolated(Map.of(), Map.of(), true).load().path();
        } catch (LibraryNotFoundException e) {
            assumeTrue(false, "no CBLAS library known to the loader (install Debian's libopenblas0)");
            return;
        }
        NativeLibrary library = isolated(Map.of("yatt.blas.library", found.toString()), Map.of(), true).load();
        assertEquals("system property yatt.blas.library", library.foundBy());
        assertEquals(found, library.path());
        assertEquals("system property yatt.blas.library: loaded " + found, library.searchReport().getFirst());
    }

    private static Path firstExisting(Path... candidates) {
        for (Path candidate : candidates) {
            if (Files.isRegularFile(candidate)) {
                return candidate;
            }
        }
        return null;
    }
}
