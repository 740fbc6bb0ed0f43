package io.yatt.trainer.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import io.yatt.ffi.LibraryNotFoundException;
import io.yatt.ffi.NativeLibraries;
import io.yatt.ffi.NativeLibrary;
import io.yatt.ffi.YattNativeException;
import io.yatt.ffi.blas.Blas;
import io.yatt.ffi.cuda.Cuda;
import io.yatt.ffi.cuda.CudaStatus;
import io.yatt.ffi.cuda.DeviceProperties;
import io.yatt.ffi.nccl.Nccl;
import io.yatt.trainer.model.Gemm;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.stream.Stream;

/**
 * What {@code yatt info} reports: JVM and OS facts, the CUDA runtime and its devices, NCCL, BLAS; for a
 * missing library, every place searched and how to point at it. Immutable.
 *
 * @param java JDK version, vendor and home
 * @param os operating system name, version and architecture
 * @param cores available processors
 * @param memoryBytes physical memory of the machine
 * @param cuda the CUDA probe
 * @param devices properties of each usable device, in ordinal order
 * @param deviceErrors for devices whose properties could not be read, why
 * @param ncclVersion NCCL version, or {@code null} when NCCL is unusable
 * @param ncclLibrary the loaded NCCL file, or {@code null}
 * @param ncclFoundBy the search step that found NCCL, or {@code null}
 * @param ncclProblem why NCCL is unusable, or {@code null}
 * @param ncclSearch NCCL's library search, one line per step
 * @param blas the BLAS library and the matrix multiply backend
 */
record MachineReport(String java, String os, int cores, long memoryBytes, CudaStatus cuda,
        List<DeviceProperties> devices, List<String> deviceErrors, String ncclVersion, String ncclLibrary,
        String ncclFoundBy, String ncclProblem, List<String> ncclSearch, BlasReport blas) {

    /**
     * The CBLAS library (OpenBLAS) behind {@link Gemm}, and the backend it multiplies with.
     *
     * @param config OpenBLAS's build description, {@code "CBLAS"} for another library, or {@code null} when none
     * @param library the loaded file, or {@code null}
     * @param foundBy the search step that found it, or {@code null}
     * @param threads threads per call, or 0 when no library was found
     * @param gemmBackend {@code java} or {@code blas}, or why {@value Gemm#BACKEND_PROPERTY} is unusable
     * @param search the library search, one line per step
     * @param kernelHint what to do when OpenBLAS runs kernels older than the CPU supports, or {@code null}
     */
    record BlasReport(String config, String library, String foundBy, int threads, String gemmBackend,
            List<String> search, String kernelHint) {

        /** OpenBLAS's kernel sets (core names) that use AVX-512. */
        private static final Set<String> AVX512_CORES = Set.of("skylakex", "cooperlake", "sapphirerapids");
        /** The CPU flags those kernels need. */
        private static final Set<String> AVX512_FLAGS = Set.of("avx512f", "avx512dq", "avx512bw", "avx512vl");

        static BlasReport collect() {
            String backend;
            try {
                backend = Gemm.backend().name().toLowerCase(Locale.ROOT);
            } catch (IllegalStateException e) {
                backend = e.getMessage();
            }
            try {
                NativeLibrary blas = NativeLibraries.blas();
                String hint = kernelHint(Blas.coreName().orElse(null), cpuFlags(Path.of("/proc/cpuinfo")),
                        System.getenv("OPENBLAS_CORETYPE"));
                return new BlasReport(Blas.config().orElse("CBLAS"), blas.path().toString(), blas.foundBy(),
                        Blas.threads(), backend, blas.searchReport(), hint);
            } catch (LibraryNotFoundException e) {
                return new BlasReport(null, null, null, 0, backend, e.searchReport(), null);
            }
        }

        /**
         * A hint when OpenBLAS runs kernels without AVX-512 on a CPU that has it: Debian's OpenBLAS 0.3.21 gives CPUs
         * newer than it knows (an AMD EPYC of family 26, for one) its Haswell kernels, and {@code OPENBLAS_CORETYPE}
         * may ask for them.
         *
         * @param core OpenBLAS's kernel set, or {@code null} when unknown (another CBLAS)
         * @param cpuFlags the CPU's flags (empty when unknown)
         * @param requested the value of {@code OPENBLAS_CORETYPE}, or {@code null}
         * @return the hint, or {@code null} when there is nothing to say
         */
        static String kernelHint(String core, Set<String> cpuFlags, String requested) {
            if (core == null || AVX512_CORES.contains(core.toLowerCase(Locale.ROOT))
                    || !cpuFlags.containsAll(AVX512_FLAGS)) {
                return null;
            }
            String why = requested == null || requested.isBlank()
                    ? "OpenBLAS chose its " + core + " kernels (this OpenBLAS does not know the CPU)"
                    : "OPENBLAS_CORETYPE=" + requested.strip() + " keeps OpenBLAS on its " + core + " kernels";
            return "the CPU has AVX-512 but " + why + "; OPENBLAS_CORETYPE=SkylakeX selects its AVX-512 kernels"
                    + " (those the trainer's goldens were captured with; see docs/trainer.md)";
        }

        /** The flags of the first CPU in {@code cpuinfo} (Linux's {@code /proc/cpuinfo}); empty when unreadable. */
        static Set<String> cpuFlags(Path cpuinfo) {
            try (Stream<String> lines = Files.lines(cpuinfo)) {
                return lines.filter(l -> l.startsWith("flags")).findFirst()
                        .map(l -> Set.copyOf(List.of(l.substring(l.indexOf(':') + 1).trim().split("\\s+"))))
                        .orElse(Set.of());
            } catch (IOException | UncheckedIOException e) {
                return Set.of();
            }
        }
    }

    private static final String NCCL_HINT =
            "point at libnccl.so.2 with -Dyatt.nccl.library=FILE or YATT_NCCL_LIBRARY=FILE, "
                    + "or install NCCL (e.g. pip install nvidia-nccl-cu13)";
    private static final String BLAS_HINT =
            "optional (matrix multiply falls back to Java): install Debian's libopenblas0, or point at"
                    + " libopenblas.so.0 with -Dyatt.blas.library=FILE or YATT_BLAS_LIBRARY=FILE";
    private static final String CUDA_HINT =
            "point at libcudart.so with -Dyatt.cudart.library=FILE or YATT_CUDART_LIBRARY=FILE, "
                    + "or install the CUDA toolkit/runtime";

    /** Probes this machine; never throws for a missing driver, device or library. */
    static MachineReport collect() {
        Runtime.Version v = Runtime.version();
        String java = v + " (" + System.getProperty("java.vendor") + ") " + System.getProperty("java.home");
        String os = System.getProperty("os.name") + " " + System.getProperty("os.version") + " " + System.getProperty("os.arch");
        long memory = ((com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean())
                .getTotalMemorySize();
        CudaStatus cuda = Cuda.status();
        List<DeviceProperties> devices = new ArrayList<>();
        List<String> deviceErrors = new ArrayList<>();
        for (int d = 0; d < cuda.deviceCount(); d++) {
            try {
                devices.add(Cuda.deviceProperties(d));
            } catch (YattNativeException e) {
                deviceErrors.add("cuda:" + d + ": " + e.getMessage());
            }
        }
        String ncclVersion = null;
        String ncclLibrary = null;
        String ncclFoundBy = null;
        String ncclProblem = null;
        List<String> ncclSearch;
        try {
            NativeLibrary nccl = NativeLibraries.nccl();
            ncclLibrary = nccl.path().toString();
            ncclFoundBy = nccl.foundBy();
            ncclSearch = nccl.searchReport();
            try {
                ncclVersion = Nccl.version().toString();
            } catch (YattNativeException e) {
                ncclProblem = e.getMessage();
            }
        } catch (LibraryNotFoundException e) {
            ncclProblem = "NCCL not found";
            ncclSearch = e.searchReport();
        }
        return new MachineReport(java, os, Runtime.getRuntime().availableProcessors(), memory, cuda,
                List.copyOf(devices), List.copyOf(deviceErrors), ncclVersion, ncclLibrary, ncclFoundBy, ncclProblem,
                ncclSearch, BlasReport.collect());
    }

    /** @return the report for people, one fact per line */
    String toText() {
        StringBuilder b = new StringBuilder();
        line(b, "JDK", java);
        line(b, "OS", os);
        line(b, "Cores", Integer.toString(cores));
        line(b, "Memory", gib(memoryBytes));
        line(b, "CUDA runtime", cuda.runtimeVersion() == 0 ? "not loaded"
                : CudaStatus.formatVersion(cuda.runtimeVersion()) + " (" + cuda.libraryPath() + ")");
        line(b, "CUDA driver", cuda.driverVersion() == 0 ? "none" : CudaStatus.formatVersion(cuda.driverVersion()));
        line(b, "CUDA devices", Integer.toString(cuda.deviceCount()));
        for (DeviceProperties d : devices) {
            b.append(String.format(Locale.ROOT, "  cuda:%d  %s, %s, compute capability %d.%d, %d SMs, PCI %s%n",
                    d.ordinal(), d.name(), gib(d.totalMemoryBytes()), d.major(), d.minor(), d.multiProcessorCount(),
                    d.pciBusId()));
        }
        for (String e : deviceErrors) {
            b.append("  ").append(e).append(System.lineSeparator());
        }
        if (!cuda.available()) {
            line(b, "CUDA status", cuda.message());
            if (cuda.libraryPath() == null) {
                section(b, "CUDA runtime search", cuda.searchReport());
                b.append("  hint: ").append(CUDA_HINT).append(System.lineSeparator());
            }
        }
        if (ncclVersion != null) {
            line(b, "NCCL", ncclVersion + " (" + ncclLibrary + ", found by " + ncclFoundBy + ")");
        } else {
            line(b, "NCCL", ncclProblem + (ncclLibrary == null ? "" : " (" + ncclLibrary + ")"));
            section(b, "NCCL search", ncclSearch);
            b.append("  hint: ").append(NCCL_HINT).append(System.lineSeparator());
        }
        if (blas.library() != null) {
            line(b, "BLAS", blas.config() + " (" + blas.library() + ", found by " + blas.foundBy() + ", "
                    + blas.threads() + (blas.threads() == 1 ? " thread)" : " threads)"));
            if (blas.kernelHint() != null) {
                b.append("  hint: ").append(blas.kernelHint()).append(System.lineSeparator());
            }
        } else {
            line(b, "BLAS", "not found");
            section(b, "BLAS search", blas.search());
            b.append("  hint: ").append(BLAS_HINT).append(System.lineSeparator());
        }
        line(b, "GEMM", blas.gemmBackend());
        return b.toString();
    }

    /** @return the report as one JSON object */
    String toJson() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("java", java);
        m.put("os", os);
        m.put("cores", cores);
        m.put("memoryBytes", memoryBytes);
        Map<String, Object> c = new LinkedHashMap<>();
        c.put("available", cuda.available());
        c.put("runtimeVersion", cuda.runtimeVersion());
        c.put("driverVersion", cuda.driverVersion());
        c.put("deviceCount", cuda.deviceCount());
        c.put("error", cuda.error() == null ? null : cuda.error().describe());
        c.put("message", cuda.message());
        c.put("library", cuda.libraryPath());
        c.put("search", cuda.searchReport());
        List<Map<String, Object>> ds = new ArrayList<>();
        for (DeviceProperties d : devices) {
            Map<String, Object> dm = new LinkedHashMap<>();
            dm.put("ordinal", d.ordinal());
            dm.put("name", d.name());
            dm.put("totalMemoryBytes", d.totalMemoryBytes());
            dm.put("computeCapability", d.major() + "." + d.minor());
            dm.put("multiProcessorCount", d.multiProcessorCount());
            dm.put("pciBusId", d.pciBusId());
            ds.add(dm);
        }
        c.put("devices", ds);
        c.put("deviceErrors", deviceErrors);
        m.put("cuda", c);
        Map<String, Object> n = new LinkedHashMap<>();
        n.put("version", ncclVersion);
        n.put("library", ncclLibrary);
        n.put("foundBy", ncclFoundBy);
        n.put("problem", ncclProblem);
        n.put("search", ncclSearch);
        m.put("nccl", n);
        Map<String, Object> bl = new LinkedHashMap<>();
        bl.put("config", blas.config());
        bl.put("library", blas.library());
        bl.put("foundBy", blas.foundBy());
        bl.put("threads", blas.threads());
        bl.put("gemmBackend", blas.gemmBackend());
        bl.put("search", blas.search());
        bl.put("kernelHint", blas.kernelHint());
        m.put("blas", bl);
        try {
            return new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT).writeValueAsString(m)
                    + System.lineSeparator();
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new IllegalStateException("cannot render the machine report as JSON", e);
        }
    }

    private static void line(StringBuilder b, String key, String value) {
        b.append(String.format(Locale.ROOT, "%-14s %s%n", key + ":", value));
    }

    private static void section(StringBuilder b, String title, List<String> lines) {
        b.append("  ").append(title).append(':').append(System.lineSeparator());
        for (String l : lines) {
            b.append("    ").append(l).append(System.lineSeparator());
        }
    }

    private static String gib(long bytes) {
        return String.format(Locale.ROOT, "%.1f GiB (%d bytes)", bytes / (1024.0 * 1024 * 1024), bytes);
    }
}
