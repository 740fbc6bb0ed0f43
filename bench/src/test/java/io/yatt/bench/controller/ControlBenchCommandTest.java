package io.yatt.bench.controller;

import static org.junit.jupiter.api.Assertions.assertEquals;
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

    private static final String[] TINY = {"--launch", "threads", "--workers", "1", "--transports", "ipc,udp",
        "--warmup", "5", "--iterations", "20", "--batch-sizes", "64,128", "--controllers", "1,2", "--step-workers", "2",
        "--steps", "1", "--timeout-s", "60"};

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

    @Test
    void shouldMeasureRoundTripsAndStepsInOneRunAsJson() throws Exception {
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
            assertTrue(n.get("p50Ns").asLong() > 0, n.toString());
            assertTrue(n.get("p99Ns").asLong() >= n.get("p50Ns").asLong(), n.toString());
            assertTrue(n.get("p999Ns").asLong() >= n.get("p99Ns").asLong(), n.toString());
        }

        assertEquals(8, steps.size());
        for (JsonNode n : steps) {
            int c = n.get("controllers").asInt();
            long batch = n.get("batchSamples").asLong();
            String path = n.get("path").asText();
            // inline: every sample (1024 B) comes in once and goes out once; reference: each of the 2 workers'
            // TensorRef (22 B header + 2 dims x 8 B = 38 B) comes in once and goes out once, whatever the batch.
            long expectedStep = path.equals("inline") ? 2 * batch * 1024 : 2 * 2 * 38;
            assertEquals(expectedStep, n.get("bytesPerStep").asLong(), n.toString());
            assertEquals(expectedStep / c, n.get("bytesPerController").asLong(), n.toString());
            assertTrue(n.get("allocatedBytesPerController").asLong() > 0, n.toString());
            assertTrue(n.get("peakLiveBytesPerController").asLong() >= 0, n.toString());
        }
        assertEquals(List.of("1/64/reference", "1/64/inline", "1/128/reference", "1/128/inline", "2/64/reference",
            "2/64/inline", "2/128/reference", "2/128/inline"), steps.stream()
            .map(n -> n.get("controllers").asInt() + "/" + n.get("batchSamples").asLong() + "/"
                + n.get("path").asText()).toList());

        // per transport: merged p50 ratio, median block ratio, gRPC; plus 6 step targets
        assertEquals(12, targets.size());
        JsonNode flat = targets.stream().filter(t -> t.get("name").asText().startsWith("C=1: reference bytes/ctrl"))
            .findFirst().orElseThrow();
        assertEquals(1.0, flat.get("value").asDouble());
        assertTrue(flat.get("met").asBoolean());
        JsonNode share = targets.stream().filter(t -> t.get("name").asText().startsWith("C=2: reference / inline"))
            .findFirst().orElseThrow();
        assertEquals(76.0 / (2 * 64 * 1024), share.get("value").asDouble(), 1e-12);
    }

    @Test
    void shouldKeepTheRuntimeReferencePathFlatInBatchSizeAndFreeEveryRegion() throws Exception {
        // 256 and 512 samples of 1 KiB over 2 workers: 128 and 256 KiB per worker, above the 64 KiB inline limit
        Object[] r = run("--parts", "step", "--paths", "batch,inline", "--controllers", "1,2", "--batch-sizes",
            "256,512", "--step-workers", "2", "--steps", "2", "--timeout-s", "60", "--json");
        assertEquals(0, r[0], (String) r[2]);
        ObjectMapper mapper = new ObjectMapper();
        List<JsonNode> batchRows = new ArrayList<>();
        List<JsonNode> targets = new ArrayList<>();
        for (String line : ((String) r[1]).strip().split("\n")) {
            JsonNode node = mapper.readTree(line);
            if (node.get("table").asText().equals("step") && node.get("path").asText().equals("batch")) {
                batchRows.add(node);
            } else if (node.get("table").asText().equals("target")) {
                targets.add(node);
            }
        }
        assertEquals(List.of("1/256", "1/512", "2/256", "2/512"), batchRows.stream()
            .map(n -> n.get("controllers").asInt() + "/" + n.get("batchSamples").asLong()).toList());
        for (int c = 0; c < 2; c++) {
            // the same payload bytes at 256 and 512 samples: the rows never pass through the controller
            assertEquals(batchRows.get(2 * c).get("bytesPerController").asLong(),
                batchRows.get(2 * c + 1).get("bytesPerController").asLong(), batchRows.toString());
        }
        assertEquals(List.of("C=1: batch bytes/ctrl at batch 512 / at batch 256 (flat)",
            "C=1: batch / inline bytes/ctrl at batch 512", "C=2: batch bytes/ctrl at batch 512 / at batch 256 (flat)",
            "C=2: batch / inline bytes/ctrl at batch 512", "peakLive/ctrl C=2 batch / C=1 inline at batch 512",
            "peakLive/ctrl C=2 inline / C=1 inline at batch 512"), targets.stream()
            .map(t -> t.get("name").asText()).toList());
        for (JsonNode t : targets.subList(0, 4)) {
            assertTrue(t.get("met").asBoolean(), t.toString());
        }
    }

    @Test
    void shouldPrintTablesWithHeaders() {
        Object[] r = run("--parts", "step", "--controllers", "1", "--batch-sizes", "64", "--step-workers", "2",
            "--steps", "1");
        assertEquals(0, r[0], (String) r[2]);
        String[] lines = ((String) r[1]).strip().split("\n");
        assertTrue(lines[0].startsWith("# yatt bench control, controller steps: stepWorkers=2"), lines[0]);
        assertTrue(lines[1].matches("#\\s+controllers\\s+batch\\s+path\\s+bytes/step\\s+bytes/ctrl\\s+alloc/ctrl"
            + "\\s+peakLive/ctrl\\s+step_ms"), lines[1]);
        assertTrue(lines[2].matches("\\s+1\\s+64\\s+reference\\s+152\\s+152\\s+\\d+\\s+\\d+\\s+[0-9.]+"), lines[2]);
        assertTrue(lines[3].matches("\\s+1\\s+64\\s+inline\\s+131072\\s+131072\\s+\\d+\\s+\\d+\\s+[0-9.]+"),
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
        Object[] idle = run("--idle", "sleep");
        assertTrue(((String) idle[2]).contains("unknown idle strategy: idle=sleep, expected backoff, yielding or"
            + " busy-spin"), (String) idle[2]);
        Object[] blocks = run("--iterations", "5", "--blocks", "6");
        assertTrue(((String) blocks[2]).contains("blocks out of range: blocks=6, expected=1..5 (the iterations)"),
            (String) blocks[2]);
        Object[] payload = run("--payload-bytes", "2048");
        assertTrue(((String) payload[2]).contains("payload out of range: payloadBytes=2048, expected=1..1024"),
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
    void shouldGiveEachWorkerTheRolesOfTheCountsItBelongsTo() {
        assertEquals(List.of("n1", "n2", "n4", "n8"), ControlBenchCommand.echoRoles(0, List.of(1, 2, 4, 8)));
        assertEquals(List.of("n4", "n8"), ControlBenchCommand.echoRoles(3, List.of(1, 2, 4, 8)));
        assertEquals(List.of("n8"), ControlBenchCommand.echoRoles(7, List.of(1, 2, 4, 8)));
        assertEquals(List.of(), ControlBenchCommand.echoRoles(2, List.of(1, 2)));
    }
}
