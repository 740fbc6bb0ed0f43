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
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

class LibrarySearchTest {
    @TempDir
    Path tmp;

    /** A search that sees only the temp folder: no JVM properties, no environment, no system folders. */
    private LibrarySearch isolated(LibrarySpec spec, Map<String, String> properties, Map<String, String> environment) {
        return LibrarySearch.of(spec)
                .properties(properties)
                .environment(environment)
                .userHome(tmp.resolve("home"))
                .toolkitParents(List.of(tmp.resolve("toolkits")))
                .systemLibraryDirs(List.of())
                .pythonRoots(List.of())
                .platformLoader(false)
                .classLoader(new URLClassLoader(new URL[0], null));
    }

    @Test
    void shouldRejectAFileThatIsNotAnElfObjectAndNameIt() throws IOException {
        Path fake = Files.writeString(Files.createDirectories(tmp.resolve("lib")).resolve("libnccl.so.2"), "not an ELF file");
        LibraryNotFoundException e = assertThrows(LibraryNotFoundException.class,
                () -> isolated(LibrarySpec.NCCL, Map.of("yatt.nccl.library", fake.toString()), Map.of()).load());
        assertEquals("nccl", e.library());
        assertEquals("system property yatt.nccl.library=" + fake + ": rejected: not an ELF shared object"
                + " (first bytes 6e6f7420, expected 7f454c46)", e.searchReport().getFirst());
        assertEquals("nccl library not usable: system property yatt.nccl.library=" + fake
                + " names a file that cannot be loaded; fix or unset it. Steps tried:", e.getMessage().lines().findFirst().orElseThrow());
    }

    @Test
    void shouldListEveryStepWhenThePropertyNamesAMissingFile() throws IOException {
        Path missing = tmp.resolve("missing/libnccl.so.2");
        Path ldDir = Files.createDirectories(tmp.resolve("ld"));
        LibraryNotFoundException e = assertThrows(LibraryNotFoundException.class,
                () -> isolated(LibrarySpec.NCCL, Map.of("yatt.nccl.library", missing.toString()),
                        Map.of("LD_LIBRARY_PATH", ldDir + ":" + tmp.resolve("nowhere"))).load());
        Path home = tmp.resolve("home");
        List<String> expected = List.of(
                "system property yatt.nccl.library=" + missing + ": rejected: no such file",
                "environment YATT_NCCL_LIBRARY: not set",
                "LD_LIBRARY_PATH " + ldDir + ": no libnccl.so.2, libnccl.so",
                "LD_LIBRARY_PATH " + tmp.resolve("nowhere") + ": no such folder",
                "ldconfig cache and dlopen by soname: skipped (platform loader disabled)",
                "CUDA_HOME: not set",
                "CUDA_PATH: not set",
                "CUDA toolkit " + tmp.resolve("toolkits/cuda/lib64") + ": no such folder",
                "python site-packages: none found under [], " + home
                        + "/{.local,.pyenv/versions/*,miniconda3,anaconda3,miniforge3}, $VIRTUAL_ENV, $CONDA_PREFIX",
                "JavaCPP CUDA redist: no org/bytedeco/cuda/linux-x86_64/{libnccl.so.2,libnccl.so} on the class path");
        assertEquals(expected, e.searchReport());
        assertEquals(expected.size() + 1, e.getMessage().lines().count());
    }

    @Test
    void shouldExplainHowToPointAtTheLibraryWhenNothingIsSet() {
        LibraryNotFoundException e = assertThrows(LibraryNotFoundException.class,
                () -> isolated(LibrarySpec.NCCL, Map.of(), Map.of()).load());
        assertEquals("nccl library not found: looked for libnccl.so.2, libnccl.so; point at the file with"
                + " -Dyatt.nccl.library=/path/to/libnccl.so.2 or YATT_NCCL_LIBRARY=/path/to/libnccl.so.2"
                + " (NCCL from a pip wheel: eval \"$(scripts/find-nccl.sh)\"). Steps tried:",
                e.getMessage().lines().findFirst().orElseThrow());
        assertEquals("system property yatt.nccl.library: not set", e.searchReport().get(0));
        assertEquals("environment YATT_NCCL_LIBRARY: not set", e.searchReport().get(1));
        assertEquals("LD_LIBRARY_PATH: not set", e.searchReport().get(2));
    }

    @Test
    void shouldRejectAnElfObjectWithoutTheMarkerSymbol() throws IOException {
        Path libm = Path.of("/lib/x86_64-linux-gnu/libm.so.6");
        assumeTrue(Files.isRegularFile(libm), "needs a real ELF shared object: " + libm + " is absent");
        Path dir = Files.createDirectories(tmp.resolve("ld"));
        Files.copy(libm, dir.resolve("libnccl.so.2"));
        LibraryNotFoundException e = assertThrows(LibraryNotFoundException.class,
                () -> isolated(LibrarySpec.NCCL, Map.of(), Map.of("LD_LIBRARY_PATH", dir.toString())).load());
        assertEquals("LD_LIBRARY_PATH " + dir.resolve("libnccl.so.2")
                + ": rejected: loaded but has no symbol ncclGetVersion (not a nccl library)", e.searchReport().get(2));
    }

    @Test
    void shouldFindButNotLoadOtherCopiesWhenTheExplicitSettingFails() throws IOException {
        Path libm = Path.of("/lib/x86_64-linux-gnu/libm.so.6");
        assumeTrue(Files.isRegularFile(libm), "needs a real ELF shared object: " + libm + " is absent");
        Path dir = Files.createDirectories(tmp.resolve("ld"));
        Files.copy(libm, dir.resolve("libnccl.so.2"));
        Path missing = tmp.resolve("missing.so");
        LibraryNotFoundException e = assertThrows(LibraryNotFoundException.class,
                () -> isolated(LibrarySpec.NCCL, Map.of(), Map.of("YATT_NCCL_LIBRARY", missing.toString(),
                        "LD_LIBRARY_PATH", dir.toString())).load());
        assertEquals(List.of(
                "system property yatt.nccl.library: not set",
                "environment YATT_NCCL_LIBRARY=" + missing + ": rejected: no such file",
                "LD_LIBRARY_PATH " + dir + " " + dir.resolve("libnccl.so.2")
                        + ": usable, not loaded (environment YATT_NCCL_LIBRARY=" + missing + " takes precedence)"),
                e.searchReport().subList(0, 3));
    }

    @Test
    void shouldSearchCudaToolkitsNewestFirst() throws IOException {
        for (String version : List.of("cuda-12.8", "cuda-13.0", "cuda-12.10")) {
            Files.createDirectories(tmp.resolve("toolkits").resolve(version).resolve("lib64"));
        }
        LibraryNotFoundException e = assertThrows(LibraryNotFoundException.class,
                () -> isolated(LibrarySpec.CUDART, Map.of(), Map.of("CUDA_HOME", tmp.resolve("home-cuda").toString())).load());
        Path toolkits = tmp.resolve("toolkits");
        String none = ": no libcudart.so, libcudart.so.13, libcudart.so.12";
        assertEquals(List.of(
                "CUDA_HOME " + tmp.resolve("home-cuda/lib64") + ": no such folder",
                "CUDA_HOME " + tmp.resolve("home-cuda/lib") + ": no such folder",
                "CUDA_HOME " + tmp.resolve("home-cuda/targets/x86_64-linux/lib") + ": no such folder",
                "CUDA_PATH: not set",
                "CUDA toolkit " + toolkits.resolve("cuda/lib64") + ": no such folder",
                "CUDA toolkit " + toolkits.resolve("cuda-13.0/lib64") + none,
                "CUDA toolkit " + toolkits.resolve("cuda-12.10/lib64") + none,
                "CUDA toolkit " + toolkits.resolve("cuda-12.8/lib64") + none),
                e.searchReport().subList(4, 12));
    }

    @Test
    void shouldLoadFromAPythonSitePackagesNvidiaFolderAndFindItsHeaders() throws IOException {
        NativeLibrary cudart;
        try {
            cudart = NativeLibraries.cudart();
        } catch (LibraryNotFoundException e) {
            assumeTrue(false, "needs the CUDA runtime library to lay out a fake pip install: " + e.getMessage().lines().findFirst().orElse(""));
            return;
        }
        Path pkg = Files.createDirectories(tmp.resolve("home/.local/lib/python3.12/site-packages/nvidia/cu13"));
        Files.createDirectories(pkg.resolve("lib"));
        Files.createSymbolicLink(pkg.resolve("lib/libcudart.so.13"), cudart.path().toRealPath());
        Files.createDirectories(pkg.resolve("include"));
        Files.writeString(pkg.resolve("include/cuda_runtime_api.h"), "/* fake */\n");
        NativeLibrary found;
        try {
            found = isolated(LibrarySpec.CUDART, Map.of(), Map.of()).load();
        } finally {
            Files.delete(pkg.resolve("lib/libcudart.so.13")); // the link, not the toolkit's file
        }
        assertEquals(pkg.resolve("lib/libcudart.so.13"), found.path());
        assertEquals("python site-packages " + pkg.resolve("lib"), found.foundBy());
        assertEquals("python site-packages " + pkg.resolve("lib") + ": loaded " + pkg.resolve("lib/libcudart.so.13"),
                found.searchReport().getLast());
        assertEquals(pkg.resolve("include/cuda_runtime_api.h"), found.header("cuda_runtime_api.h").orElseThrow());
    }

    @Test
    void shouldFindTheCudaRuntimeAndItsHeadersOnThisMachine() {
        NativeLibrary cudart;
        try {
            cudart = NativeLibraries.cudart();
        } catch (LibraryNotFoundException e) {
            assumeTrue(false, "no CUDA runtime on this machine: " + e.getMessage().lines().findFirst().orElse(""));
            return;
        }
        assertTrue(Files.isRegularFile(cudart.path()), cudart.path().toString());
        assertTrue(cudart.searchReport().getLast().contains(": loaded " + cudart.path()), cudart.searchReport().getLast());
        assertTrue(cudart.header("driver_types.h").isPresent(), "driver_types.h in " + cudart.includeDirs());
        assertTrue(cudart.lookup().find("cudaMalloc").isPresent());
    }

    @Test
    void shouldReportACachedFailureAgainWithTheSameSteps() {
        LibrarySpec spec = new LibrarySpec("yattnope", "yatt.yattnope.library", "YATT_YATTNOPE_LIBRARY",
                List.of("libyattnope.so"), "yattNope", false);
        LibraryNotFoundException first = assertThrows(LibraryNotFoundException.class, () -> NativeLibraries.load(spec));
        LibraryNotFoundException second = assertThrows(LibraryNotFoundException.class, () -> NativeLibraries.load(spec));
        assertNotSame(first, second);
        assertEquals(first.getMessage(), second.getMessage());
        assertEquals(first.searchReport(), second.searchReport());
        assertTrue(first.searchReport().contains("CUDA toolkit folders: skipped (yattnope is not part of the toolkit)"),
                first.searchReport().toString());
    }

    @Test
    void shouldRejectASpecWithoutFileNames() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> new LibrarySpec("x", "p", "E", List.of(), "s", false));
        assertEquals("fileNames must not be empty: name=x", e.getMessage());
    }
}
