package io.yatt.trainer.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.yatt.ffi.blas.Blas;
import io.yatt.ffi.cuda.Cuda;
import io.yatt.trainer.model.Gemm;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

class InfoCommandTest {

    private record Run(int exitCode, String out, String err) {
    }

    private static Run run(String... args) {
        CommandLine cl = YattCli.commandLine();
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        cl.setOut(new PrintWriter(out));
        cl.setErr(new PrintWriter(err));
        int code = cl.execute(args);
        return new Run(code, out.toString(), err.toString());
    }

    @Test
    void shouldReportMachineAndExitZero() {
        Run run = run("info");

        assertEquals(0, run.exitCode(), run.err());
        assertTrue(run.out().contains("Cores:         " + Runtime.getRuntime().availableProcessors() + "\n"), run.out());
        assertTrue(run.out().contains("JDK:           " + Runtime.version()), run.out());
        assertTrue(run.out().contains("CUDA devices:  " + Cuda.deviceCount() + "\n"), run.out());
    }

    @Test
    void shouldExplainWhyNoDeviceIsUsable() {
        Run run = run("info");

        if (Cuda.deviceCount() == 0) {
            assertTrue(run.out().contains("CUDA status:   " + Cuda.status().message() + "\n"), run.out());
        } else {
            assertTrue(run.out().contains("  cuda:0  "), run.out());
        }
    }

    @Test
    void shouldListEveryNcclSearchStepWhenNcclIsMissing() throws Exception {
        Run run = run("info", "--json");

        assertEquals(0, run.exitCode(), run.err());
        JsonNode nccl = new ObjectMapper().readTree(run.out()).get("nccl");
        if (nccl.get("version").isNull()) {
            assertTrue(run.out().contains("\"problem\""), run.out());
            assertTrue(nccl.get("search").size() > 0, run.out());
            assertTrue(run(("info")).out().contains("hint: point at libnccl.so.2 with -Dyatt.nccl.library=FILE"));
        } else {
            assertTrue(nccl.get("version").asText().matches("\\d+\\.\\d+\\.\\d+"), run.out());
            assertTrue(nccl.get("library").asText().contains("libnccl"), run.out());
        }
    }

    @Test
    void shouldReportTheBlasLibraryOrEverySearchStep() throws Exception {
        Run json = run("info", "--json");
        Run text = run("info");

        assertEquals(0, json.exitCode(), json.err());
        JsonNode blas = new ObjectMapper().readTree(json.out()).get("blas");
        if (Blas.available()) {
            String path = Blas.library().path().toString();
            assertEquals(path, blas.get("library").asText());
            assertEquals(Blas.library().foundBy(), blas.get("foundBy").asText());
            assertEquals(Blas.threads(), blas.get("threads").asInt());
            String config = Blas.config().orElse("CBLAS");
            assertEquals(config, blas.get("config").asText());
            assertTrue(text.out().contains("BLAS:          " + config + " (" + path + ", found by "
                    + Blas.library().foundBy() + ", " + Blas.threads()), text.out());
        } else {
            assertTrue(blas.get("library").isNull(), json.out());
            assertTrue(blas.get("search").size() > 0, json.out());
            assertTrue(text.out().contains("BLAS:          not found\n"), text.out());
            assertTrue(text.out().contains("hint: optional (matrix multiply falls back to Java): install Debian's"
                    + " libopenblas0"), text.out());
        }
    }

    @Test
    void shouldHintAtOpenBlasAvx512KernelsOnlyWhereTheCpuHasThemAndOpenBlasDoesNotUseThem() {
        Set<String> avx512 = Set.of("fpu", "avx2", "avx512f", "avx512dq", "avx512bw", "avx512vl");
        assertEquals("the CPU has AVX-512 but OpenBLAS chose its Haswell kernels (this OpenBLAS does not know the"
                + " CPU); OPENBLAS_CORETYPE=SkylakeX selects its AVX-512 kernels (those the trainer's goldens were"
                + " captured with; see docs/trainer.md)", MachineReport.BlasReport.kernelHint("Haswell", avx512, null));
        assertEquals("the CPU has AVX-512 but OPENBLAS_CORETYPE=Haswell keeps OpenBLAS on its Haswell kernels;"
                + " OPENBLAS_CORETYPE=SkylakeX selects its AVX-512 kernels (those the trainer's goldens were captured"
                + " with; see docs/trainer.md)", MachineReport.BlasReport.kernelHint("Haswell", avx512, " Haswell"));
        assertNull(MachineReport.BlasReport.kernelHint("SkylakeX", avx512, null));
        assertNull(MachineReport.BlasReport.kernelHint("Cooperlake", avx512, "COOPERLAKE"));
        assertNull(MachineReport.BlasReport.kernelHint("Haswell", Set.of("fpu", "avx2", "avx512f"), null));
        assertNull(MachineReport.BlasReport.kernelHint(null, avx512, null));
    }

    @Test
    void shouldReadTheFirstCpusFlagsAndNothingFromAMissingFile(@TempDir Path dir) throws Exception {
        Path cpuinfo = dir.resolve("cpuinfo");
        Files.writeString(cpuinfo, "processor\t: 0\nflags\t\t: fpu avx2 avx512f avx2\n\nprocessor\t: 1\n"
                + "flags\t\t: sse\n");
        assertEquals(Set.of("fpu", "avx2", "avx512f"), MachineReport.BlasReport.cpuFlags(cpuinfo));
        assertEquals(Set.of(), MachineReport.BlasReport.cpuFlags(dir.resolve("missing")));
    }

    @Test
    void shouldReportTheKernelHintInTextAndJsonAlike() throws Exception {
        Run json = run("info", "--json");
        Run text = run("info");
        JsonNode hint = new ObjectMapper().readTree(json.out()).get("blas").get("kernelHint");
        assertTrue(hint != null, json.out());
        if (hint.isNull()) {
            assertFalse(text.out().contains("the CPU has AVX-512 but"), text.out());
        } else {
            assertTrue(text.out().contains("  hint: " + hint.asText() + "\n"), text.out());
        }
    }

    @Test
    void shouldReportTheMatrixMultiplyBackend() throws Exception {
        Run json = run("info", "--json");

        String backend = Gemm.backend().name().toLowerCase(java.util.Locale.ROOT);
        assertEquals(backend, new ObjectMapper().readTree(json.out()).get("blas").get("gemmBackend").asText());
        assertTrue(run("info").out().contains("GEMM:          " + backend + "\n"));
    }

    @Test
    void shouldReportCudaFieldsAsJson() throws Exception {
        Run run = run("info", "--json");

        JsonNode cuda = new ObjectMapper().readTree(run.out()).get("cuda");
        assertEquals(Cuda.deviceCount(), cuda.get("deviceCount").asInt());
        assertEquals(Cuda.deviceCount(), cuda.get("devices").size());
        assertEquals(Cuda.status().runtimeVersion(), cuda.get("runtimeVersion").asInt());
    }

    @Test
    void shouldRejectUnknownSubcommandWithUsageError() {
        Run run = run("infoo");

        assertEquals(2, run.exitCode());
        assertTrue(run.err().startsWith("Unmatched argument at index 0: 'infoo'"), run.err());
    }
}
