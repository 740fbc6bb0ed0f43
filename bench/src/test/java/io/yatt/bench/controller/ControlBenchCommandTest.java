package io.yatt.bench.controller;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

class ControlBenchCommandTest {

    // 256 and 4096 samples of 1 KiB over 2 worker JVMs: at least 128 KiB per worker, above the 64 KiB inline limit
    private static final String[] TINY = {"--launch", "threads", "--workers", "1", "--transports", "ipc,udp",
        "--warmup", "5", "--iterations", "20", "--batch-sizes", "256,4096", "--controllers", "1,2", "--step-workers",
        "2", "--steps", "2", "--timeout-s", "60"};

    /** Runs the command; returns {exit code, stdout, stderr}. */
    private static Object[] run(String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int code = new CommandLine(new ControlBenchCommand()).setOut(new PrintWriter(out))
            .setErr(new PrintWriter(err)).execute(args);
        return new Object[] {code, out.toString(), err.toString()};
    }

    private static String[] tiny(String... more) {
        List<String> all = new ArrayList<>(List.of(TINY));
        all.addAll(List.of(more));
        return all.toArray(String[]::new);
    }

    private static JsonNode row(List<JsonNode> steps, int c, long batch, String path) {
        return steps.stream().filter(n -> n.get("controllers").asInt() == c && n.get("batchSamples").asLong() == batch
            && n.get("path").asText().equals(path)).findFirst().orElseThrow();
    }

    private static long field(List<JsonNode> steps, int c, long batch, String path, String name) {
        return row(steps, c, batch, path).get(name).asLong();
    }

    @Test
    void shouldMeasureRoundTripsAndControllerProcessStepsInOneRunAsJson() throws Exception {
        Object[] r = run(tiny("--json"));
        assertEquals(0, r[0], (String) r[2]);
        ObjectMapper mapper = new ObjectMapper();
        List<JsonNode> roundTrips = new ArrayList<>();
        List<JsonNode> steps = new ArrayList<>();
        List<JsonNode> targets = new ArrayList<>();
        for (String line : ((String) r[1]).strip().split("\n")) {
            JsonNode node = mapper.readTree(line);
            switch (node.get("table").asText()) {
                case "roundTrip" -> roundTrips.add(node);
                case "step" -> steps.add(node);
                case "target" -> targets.add(node);
                default -> throw new AssertionError("unknown table: " + line);
            }
        }
        List<String> paths = roundTrips.stream()
            .map(n -> n.get("transport").asText() + "/" + n.get("path").asText() + "/" + n.get("workers").asInt())
            .toList();
        assertEquals(List.of("ipc/controller/1", "ipc/raw-aeron/1", "tcp/grpc/1", "udp/controller/1",
            "udp/raw-aeron/1"), paths);
        for (JsonNode n : roundTrips) {
            assertEquals(20, n.get("iterations").asLong());
            // the default 10 blocks of 2 round trips each, one p50 per block
            assertEquals(10, n.get("blocks").asInt(), n.toString());
            assertEquals(10, n.get("blockP50sNs").size(), n.toString());
            assertEquals(32, n.get("payloadBytes").asInt());
            // --warmup 5 overrides the warm-up rule: exactly 5 untimed round trips per path
            assertEquals(5, n.get("warmupCalls").asLong(), n.toString());
            assertTrue(n.get("warmupSteady").asBoolean(), n.toString());
            assertTrue(n.get("p50Ns").asLong() > 0, n.toString());
            assertTrue(n.get("p99Ns").asLong() >= n.get("p50Ns").asLong(), n.toString());
            assertTrue(n.get("p999Ns").asLong() >= n.get("p99Ns").asLong(), n.toString());
        }

        assertEquals(List.of("1/256/reference", "1/4096/reference", "1/256/inline", "1/4096/inline",
            "2/256/reference", "2/4096/reference", "2/256/inline", "2/4096/inline"), steps.stream()
            .map(n -> n.get("controllers").asInt() + "/" + n.get("batchSamples").asLong() + "/"
                + n.get("path").asText()).toList());
        for (int c : List.of(1, 2)) {
            for (long batch : List.of(256L, 4096L)) {
                // inline: every sample (1 KiB) comes into the controller once and goes out once; the codec adds a
                // few bytes of framing per 64 KiB chunk and the counts, far under 1 %
                long samplesBytes = 2 * (batch / c) * 1024;
                long inline = field(steps, c, batch, "inline", "bytesPerController");
                assertTrue(inline >= samplesBytes && inline < samplesBytes * 1.01, "C=" + c + " batch=" + batch
                    + " inline bytes/ctrl=" + inline + ", samples in and out=" + samplesBytes);
                assertTrue(field(steps, c, batch, "inline", "bytesPerStep") >= c * samplesBytes, steps.toString());
                // the controller holds at least its share of the batch at the high point
                long peak = field(steps, c, batch, "inline", "peakLiveBytesPerController");
                assertTrue(peak >= (batch / c) * 1024, "C=" + c + " batch=" + batch + " inline peak=" + peak);
                // and little else: no earlier step's samples (dead ones left in place by the collector included);
                // per worker the plane's frame buffers, each at most the 128 KiB it keeps for reuse (three per
                // worker: frame, payload scratch, reassembly), and the JDK's one-time data of the first steps (locale
                // data for the printed rows, method-handle caches: about 0.33 MB measured), within 512 KiB
                long slack = 512 * 1024 + (2 / c) * 3 * 128 * 1024;
                assertTrue(peak <= (batch / c) * 1024 + slack, "C=" + c + " batch=" + batch + " inline peak=" + peak
                    + ", share=" + (batch / c) * 1024 + ", slack=" + slack);
                assertTrue(field(steps, c, batch, "reference", "allocatedBytesPerController") > 0, steps.toString());
            }
            // references: the same codec bytes whatever the batch (a column is one run per producing worker)
            long refSmall = field(steps, c, 256, "reference", "bytesPerController");
            assertTrue(refSmall > 0, steps.toString());
            assertEquals(refSmall, field(steps, c, 4096, "reference", "bytesPerController"), steps.toString());
            long inlinePeak = field(steps, c, 4096, "inline", "peakLiveBytesPerController");
            assertTrue(inlinePeak > field(steps, c, 256, "inline", "peakLiveBytesPerController"), steps.toString());
            // by reference the controller holds a column of runs, not the rows (4 MiB / C inline)
            long refPeak = field(steps, c, 4096, "reference", "peakLiveBytesPerController");
            assertTrue(refPeak < inlinePeak / 5, "C=" + c + " reference peak=" + refPeak + ", inline peak="
                + inlinePeak);
        }
        // each controller JVM holds its own half: C = 2 at about half of C = 1 (a controller holding the whole batch
        // would be at 1)
        double half = (double) field(steps, 2, 4096, "inline", "peakLiveBytesPerController")
            / field(steps, 1, 4096, "inline", "peakLiveBytesPerController");
        assertTrue(half > 0.4 && half < 0.65, "C=2 / C=1 inline peak at 4096 samples: " + half);

        assertEquals(List.of("C=1: reference bytes/ctrl at batch 4096 / at batch 256 (flat)",
            "C=1: reference / inline bytes/ctrl at batch 4096", "C=2: reference bytes/ctrl at batch 4096 / at batch 256"
                + " (flat)", "C=2: reference / inline bytes/ctrl at batch 4096",
            "peakLive/ctrl C=2 reference / C=1 inline at batch 4096", "peakLive/ctrl C=2 inline / C=1 inline at batch"
                + " 4096"), targets.stream().filter(t -> !t.get("name").asText().startsWith("round trip"))
            .map(t -> t.get("name").asText()).toList());
        List<JsonNode> stepTargets = targets.stream().filter(t -> !t.get("name").asText().startsWith("round trip"))
            .toList();
        for (JsonNode t : stepTargets.subList(0, 5)) {
            assertTrue(t.get("met").asBoolean(), t.toString());
        }
        // a third is the target at C = 4; at C = 2 each controller holds half
        assertEquals(half, stepTargets.get(5).get("value").asDouble(), 1e-12);
        assertFalse(stepTargets.get(5).get("met").asBoolean(), stepTargets.get(5).toString());
    }

    @Test
    void shouldSumBytesAndTakeTheLargestPerControllerFigureOverTheControllers() {
        List<StepRow> rows = ControlBenchCommand.stepRows(2, List.of(
            List.of("step-row 64 reference 100 20 5000 300 2000000", "step-row 64 inline 65536 65540 9000 70000 "
                + "3000000"),
            List.of("step-row 64 reference 90 40 6000 200 1000000", "step-row 64 inline 65536 65541 8000 71000 "
                + "4000000")));
        assertEquals(List.of(new StepRow(2, 64, "reference", 250, 130, 6000, 300, 2.0),
            new StepRow(2, 64, "inline", 262153, 131077, 9000, 71000, 4.0)), rows);
    }

    @Test
    void shouldRejectControllersThatReportDifferentRows() {
        assertEquals("step controllers reported different rows: row=0, a=64 reference, b=64 inline",
            assertThrows(IllegalStateException.class, () -> ControlBenchCommand.stepRows(2, List.of(
                List.of("step-row 64 reference 1 2 3 4 5"), List.of("step-row 64 inline 1 2 3 4 5")))).getMessage());
        assertEquals("step controllers reported different rows: counts=[1, 0]",
            assertThrows(IllegalStateException.class, () -> ControlBenchCommand.stepRows(2, List.of(
                List.of("step-row 64 reference 1 2 3 4 5"), List.of()))).getMessage());
    }

    @Test
    void shouldPrintTablesWithHeaders() {
        Object[] r = run("--parts", "step", "--controllers", "1", "--batch-sizes", "128", "--step-workers", "1",
            "--steps", "1");
        assertEquals(0, r[0], (String) r[2]);
        String[] lines = ((String) r[1]).strip().split("\n");
        assertTrue(lines[0].startsWith("# yatt bench control, controller steps: stepWorkers=1 (JVMs)"), lines[0]);
        assertTrue(lines[1].matches("#\\s+controllers\\s+batch\\s+path\\s+bytes/step\\s+bytes/ctrl\\s+alloc/ctrl"
            + "\\s+peakLive/ctrl\\s+step_ms"), lines[1]);
        assertTrue(lines[2].matches("\\s+1\\s+128\\s+reference\\s+\\d+\\s+\\d+\\s+\\d+\\s+\\d+\\s+[0-9.]+"),
            lines[2]);
        assertTrue(lines[3].matches("\\s+1\\s+128\\s+inline\\s+\\d{6}\\s+\\d{6}\\s+\\d+\\s+\\d+\\s+[0-9.]+"),
            lines[3]);
        assertEquals("# targets (issue 8 item 9)", lines[4]);
    }

    @Test
    void shouldRejectControllerCountThatDoesNotDivideTheStepWorkers() {
        Object[] r = run("--controllers", "1,3", "--step-workers", "4");
        assertEquals(2, r[0]);
        assertTrue(((String) r[2]).contains("controller count must divide the step workers: controllers=3, "
            + "stepWorkers=4"), (String) r[2]);
    }

    @Test
    void shouldRejectBatchNotAMultipleOfTheStepWorkersAndUnknownTransport() {
        Object[] batch = run("--batch-sizes", "1000,1026", "--step-workers", "4");
        assertTrue(((String) batch[2]).contains("batch size must be a positive multiple of the step workers: "
            + "batch=1026, stepWorkers=4"), (String) batch[2]);
        Object[] transport = run("--transports", "ipc,tcp");
        assertTrue(((String) transport[2]).contains("unknown transport: transport=tcp, expected ipc or udp"),
            (String) transport[2]);
        Object[] wait = run("--caller-wait", "spin");
        assertTrue(((String) wait[2]).contains("unknown caller wait: callerWait=spin, expected await, park or idle"),
            (String) wait[2]);
        Object[] threading = run("--threading", "pooled");
        assertTrue(((String) threading[2]).contains("unknown threading: threading=pooled, expected shared, dedicated"
            + " or invoker"), (String) threading[2]);
        Object[] payload = run("--payload-bytes", "4096");
        assertTrue(((String) payload[2]).contains("payload out of range: payloadBytes=4096, expected=1..1024"),
            (String) payload[2]);
    }

    @Test
    void shouldTakeTheMedianOfThePairedBlockRatios() {
        // ratios 1.0, 1.1, 0.1, 1.2, 0.125: sorted 0.1, 0.125, 1.0, 1.1, 1.2, median 1.0
        assertEquals(1.0, ControlBenchCommand.medianBlockRatio(List.of(10L, 11L, 10L, 12L, 10L),
            List.of(10L, 10L, 100L, 10L, 80L)), 1e-12);
        // even count: the mean of the middle two, (1.1 + 1.2) / 2
        assertEquals(1.15, ControlBenchCommand.medianBlockRatio(List.of(11L, 12L, 1L, 20L),
            List.of(10L, 10L, 10L, 10L)), 1e-12);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
            () -> ControlBenchCommand.medianBlockRatio(List.of(1L, 2L), List.of(1L)));
        assertEquals("block counts differ: numerator=2, denominator=1, expected equal and positive", e.getMessage());
    }

    @Test
    void shouldWarmUpUntilWarmByDefaultAndTakeAnExplicitCountAsAnOverride() {
        ControlBenchCommand byDefault = new ControlBenchCommand();
        new CommandLine(byDefault).parseArgs();
        assertEquals(Blocks.DEFAULT_WARMUP, byDefault.settings().warmup());
        assertEquals("until warm (>= 20000 calls and 1 s, chunk p50s no longer falling; at most 5 s per path)",
            ControlBenchCommand.describe(byDefault.settings().warmup()));
        ControlBenchCommand fixed = new ControlBenchCommand();
        new CommandLine(fixed).parseArgs("--warmup", "200");
        assertEquals(new Blocks.Fixed(200), fixed.settings().warmup());
        assertEquals("200", ControlBenchCommand.describe(fixed.settings().warmup()));
        Object[] negative = run("--warmup", "-1");
        assertTrue(((String) negative[2]).contains("counts must be positive: warmup=-1"), (String) negative[2]);
    }

    private static LatencyRow latency(String transport, String path, long p50Ns, List<Long> blocks) {
        return new LatencyRow(transport, path, 1, 100, p50Ns, p50Ns, p50Ns, p50Ns, blocks,
            new Blocks.WarmedUp(10, 1, true), "", List.of());
    }

    @Test
    void shouldJudgeTheRoundTripByThePairedBlocksAndPrintTheMergedRatioAsInformation() {
        // controller blocks 10, 90, 90 us, raw 9, 9, 80 us: merged p50s 90 / 9 = 10x, paired ratios 1.11, 10, 1.125
        List<ControlBenchCommand.Target> t = ControlBenchCommand.targets(List.of(
            latency("udp", LatencyRow.CONTROLLER, 90_000, List.of(10_000L, 90_000L, 90_000L)),
            latency("udp", LatencyRow.RAW_AERON, 9_000, List.of(9_000L, 9_000L, 80_000L))), List.of());
        assertEquals(List.of("round trip N=1 udp: median over blocks of controller p50 / raw Aeron p50",
            "round trip N=1 udp: controller p50 / raw Aeron p50, merged blocks",
            "round trip N=1 udp: share of blocks where controller p50 > 2 x raw Aeron p50"), t.stream()
            .map(ControlBenchCommand.Target::name).toList());
        assertEquals(1.125, t.get(0).value(), 1e-12);
        assertTrue(t.get(0).met());
        assertFalse(t.get(0).information());
        assertEquals(10.0, t.get(1).value(), 1e-12);
        assertTrue(t.get(1).information());
        // one pair of three (90 against 9 us) over 2x
        assertEquals(1.0 / 3, t.get(2).value(), 1e-12);
        assertTrue(t.get(2).information());
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
            () -> ControlBenchCommand.shareAbove(List.of(1L), List.of(1L, 2L), 2));
        assertEquals("block counts differ: numerator=1, denominator=2, expected equal and positive", e.getMessage());
    }

    @Test
    void shouldGiveEachWorkerTheRolesOfTheCountsItBelongsTo() {
        assertEquals(List.of("n1", "n2", "n4", "n8"), ControlBenchCommand.echoRoles(0, List.of(1, 2, 4, 8)));
        assertEquals(List.of("n4", "n8"), ControlBenchCommand.echoRoles(3, List.of(1, 2, 4, 8)));
        assertEquals(List.of("n8"), ControlBenchCommand.echoRoles(7, List.of(1, 2, 4, 8)));
        assertEquals(List.of(), ControlBenchCommand.echoRoles(2, List.of(1, 2)));
    }
}
