package io.yatt.bench.hybrid;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

class ReshardBenchCommandTest {

    private static final String[] SMALL = {"--world", "8", "--train", "1-8-1", "--gen", "1-2-4", "--layers", "2",
        "--hidden", "64", "--heads", "8", "--kv-heads", "8", "--ffn", "128", "--vocab", "100", "--repeats", "2"};

    private static String[] args(String... more) {
        List<String> all = new ArrayList<>(List.of(SMALL));
        all.addAll(List.of(more));
        return all.toArray(String[]::new);
    }

    /** Runs the command; returns {exit code, stdout, stderr}. */
    private static Object[] run(String... args) {
        StringWriter err = new StringWriter();
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        PrintStream saved = System.out;
        PrintStream savedErr = System.err;
        ByteArrayOutputStream errBytes = new ByteArrayOutputStream();
        int code;
        try {
            System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
            System.setErr(new PrintStream(errBytes, true, StandardCharsets.UTF_8));
            code = new CommandLine(new ReshardBenchCommand()).setErr(new PrintWriter(err)).execute(args);
        } finally {
            System.setOut(saved);
            System.setErr(savedErr);
        }
        return new Object[] {code, out.toString(StandardCharsets.UTF_8),
            err + errBytes.toString(StandardCharsets.UTF_8)};
    }

    @Test
    void shouldRejectAWorldThatIsNotPTimesTTimesD() {
        String[] args = args();
        args[1] = "4";
        Object[] r = run(args);
        assertEquals(2, r[0]);
        assertTrue(((String) r[2]).contains("world does not match the training layout: world=4, train=1-8-1, "
            + "expected p*t*d=8"), (String) r[2]);
    }

    @Test
    void shouldRejectUnknownSchemeModelAndDtype() {
        Object[] scheme = run(args("--scheme", "zero3"));
        assertEquals(2, scheme[0]);
        assertTrue(((String) scheme[2]).contains("unknown reshard scheme: scheme=zero3, expected one of "
            + "[hybridflow, hybridflow-v, ds-chat]"), (String) scheme[2]);
        Object[] model = run(args("--model", "gpt2"));
        assertTrue(((String) model[2]).contains("unknown model: model=gpt2, expected llama"), (String) model[2]);
        Object[] dtype = run(args("--dtype", "i8"));
        assertTrue(((String) dtype[2]).contains("unknown dtype: dtype=i8, expected bf16, f16 or f32"),
            (String) dtype[2]);
    }

    @Test
    void shouldRejectAnUnknownShmMemory() {
        Object[] r = run(args("--backend", "shm", "--shm-memory", "disk"));
        assertEquals(2, r[0]);
        assertTrue(((String) r[2]).contains("unknown --shm-memory: value=disk, expected arena or heap"),
            (String) r[2]);
    }

    @Test
    void shouldFailCudaLocalWithoutAGpu() {
        org.junit.jupiter.api.Assumptions.assumeTrue(io.yatt.ffi.cuda.Cuda.deviceCount() == 0, "a GPU is present");
        Object[] r = run(args("--backend", "cuda-local"));
        assertEquals(2, r[0]);
        assertTrue(((String) r[2]).contains("cuda-local backend needs a CUDA device: deviceCount=0"), (String) r[2]);
    }

    @Test
    void shouldFailNcclWithoutAGpu() {
        org.junit.jupiter.api.Assumptions.assumeTrue(io.yatt.ffi.cuda.Cuda.deviceCount() == 0, "a GPU is present");
        Object[] r = run(args("--backend", "nccl"));
        assertEquals(2, r[0]);
        assertTrue(((String) r[2]).contains("nccl backend needs a CUDA device: deviceCount=0"), (String) r[2]);
        assertTrue(((String) r[2]).contains("the nccl backend runs one process per GPU under a launcher"),
            (String) r[2]);
    }

    @Test
    void shouldPrintOneJsonObjectPerSchemeWithTable2Bytes() throws Exception {
        Object[] r = run(args("--json"));
        assertEquals(0, r[0], (String) r[2]);
        String[] lines = ((String) r[1]).strip().split("\n");
        assertEquals(3, lines.length, (String) r[1]);
        ObjectMapper mapper = new ObjectMapper();
        List<String> schemes = new ArrayList<>();
        for (String line : lines) {
            JsonNode node = mapper.readTree(line);
            schemes.add(node.get("scheme").asText());
            assertEquals(node.get("formulaBytesReceived").asLong(), node.get("bytesReceivedPerRank").asLong());
            assertEquals(node.get("formulaPeakParamBytes").asLong(), node.get("peakParamBytesPerRank").asLong());
            // in-process: direct placement allocates no staging, so the transition's peak is the parameters'
            assertEquals(node.get("formulaPeakParamBytes").asLong(), node.get("peakBytesPerRank").asLong());
            assertTrue(node.get("timeMs").asDouble() > 0 && node.get("floorMs").asDouble() > 0, line);
            assertTrue(node.get("modelBytes").asLong() > 0, line);
            int world = node.get("world").asInt();
            assertEquals(world, node.get("cpuMsByRank").size(), line);
            assertEquals(world, node.get("floorCpuMsByRank").size(), line);
            for (int rank = 0; rank < world; rank++) {
                assertTrue(node.get("cpuMsByRank").get(rank).asDouble() > 0, line);
                assertTrue(node.get("floorCpuMsByRank").get(rank).asDouble() > 0, line);
            }
        }
        assertEquals(List.of("hybridflow", "hybridflow-v", "ds-chat"), schemes);
    }

    @Test
    @org.junit.jupiter.api.Tag("gpu")
    void shouldReshardOnCudaLocalWithCountedDeviceBytesAgainstTheDeviceFloor() throws Exception {
        org.junit.jupiter.api.Assumptions.assumeTrue(io.yatt.ffi.cuda.Cuda.deviceCount() > 0,
            "no CUDA device: " + io.yatt.ffi.cuda.Cuda.status().message());
        Object[] r = run(args("--backend", "cuda-local", "--json"));
        assertEquals(0, r[0], (String) r[2]);
        String[] lines = ((String) r[1]).strip().split("\n");
        assertEquals(3, lines.length, (String) r[1]);
        ObjectMapper mapper = new ObjectMapper();
        for (String line : lines) {
            JsonNode node = mapper.readTree(line);
            assertEquals("cuda-local", node.get("backend").asText());
            assertEquals(node.get("formulaBytesReceived").asLong(), node.get("bytesReceivedPerRank").asLong());
            assertEquals(node.get("formulaPeakParamBytes").asLong(), node.get("peakParamBytesPerRank").asLong());
            // cuda-local places pieces straight into the device views: no scratch
            assertEquals(node.get("formulaPeakParamBytes").asLong(), node.get("peakBytesPerRank").asLong());
            assertTrue(node.get("timeMs").asDouble() > 0 && node.get("floorMs").asDouble() > 0, line);
        }
    }

    /**
     * 4 KV heads on 8 training ranks (each on 2) -> t_g = 2: counted bytes equal the extended Table 2 on every rank:
     * HybridFlow {@code 3*M_s/8 + 2h - h/2} with {@code h = M_kv/4} (the generation shard's two KV heads, less the
     * half head this rank sends), the baselines {@code 7/8 * M}.
     */
    @Test
    void shouldCountTheExtendedTable2BytesWithReplicatedKvHeads() throws Exception {
        String[] a = args("--json");
        a[13] = "4";
        Object[] r = run(a);
        assertEquals(0, r[0], (String) r[2]);
        ObjectMapper mapper = new ObjectMapper();
        String[] lines = ((String) r[1]).strip().split("\n");
        assertEquals(3, lines.length, (String) r[1]);
        for (String line : lines) {
            JsonNode node = mapper.readTree(line);
            long m = node.get("modelBytes").asLong();
            long kv = node.get("kvBytes").asLong();
            // 2 layers x (k and v: 4 heads x 8 rows x 64) x bf16
            assertEquals(2L * 2 * 4 * 8 * 64 * 2, kv);
            long h = kv / 4;
            long expected = node.get("scheme").asText().equals("hybridflow") ? 3 * (m - kv) / 8 + 2 * h - h / 2
                : 7 * m / 8;
            assertEquals(expected, node.get("formulaBytesReceived").asLong(), line);
            for (JsonNode rank : node.get("bytesReceivedByRank")) {
                assertEquals(expected, rank.asLong(), line);
            }
            assertEquals(node.get("formulaPeakParamBytes").asLong(), node.get("peakParamBytesPerRank").asLong());
        }
    }
}
