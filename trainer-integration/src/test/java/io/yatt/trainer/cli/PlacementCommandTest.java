package io.yatt.trainer.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

class PlacementCommandTest {

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
    void shouldPrintTheBestPlacementAndTopKAsJson() throws Exception {
        Run run = run("plan", "placement", "--algo", "grpo", "--model", "7b", "--gpus", "16", "--profile", "a100",
                "--top", "3", "--json");

        assertEquals(0, run.exitCode(), run.err());
        JsonNode json = new ObjectMapper().readTree(run.out());
        assertEquals("grpo", json.get("algo").asText());
        assertEquals(5, json.get("partitions").asInt());
        assertEquals(3, json.get("top").size());
        JsonNode best = json.get("best");
        assertEquals(best.toString(), json.get("top").get(0).toString());
        double sum = 0;
        for (JsonNode stage : best.get("stageSeconds")) {
            sum += stage.asDouble();
        }
        assertEquals(best.get("iterationSeconds").asDouble(), sum, 1e-9);
        assertEquals(3, best.get("stageSeconds").size());
        assertTrue(json.get("transitionBytesPerRank").has("ds-chat"), run.out());
    }

    @Test
    void shouldPrintRolesLayoutsAndStagesAsText() {
        Run run = run("plan", "placement", "--algo", "ppo", "--model", "7b", "--gpus", "16");

        assertEquals(0, run.exitCode(), run.err());
        for (String role : new String[] {"actor", "critic", "reference", "reward"}) {
            assertTrue(run.out().contains("\n" + role + " "), run.out());
        }
        assertTrue(run.out().contains("  stage generation "), run.out());
        assertTrue(run.out().contains("# 15 set partitions"), run.out());
        assertTrue(run.out().contains("# minimum GPUs from memory: actor=2 critic=2 reference=1 reward=1 all=4\n"),
                run.out());
    }

    @Test
    void shouldNameTheUnknownProfile() {
        Run run = run("plan", "placement", "--gpus", "16", "--profile", "v100");

        assertEquals(2, run.exitCode());
        assertTrue(run.err().contains(
                "unknown device profile: profile=v100, expected one of [a100, h100, h200] or a JSON file"), run.err());
    }

    @Test
    void shouldNameGpusThatAreNotAMultipleOfTheNodeSize() {
        Run run = run("plan", "placement", "--gpus", "12");

        assertEquals(2, run.exitCode());
        assertTrue(run.err().contains("GPUs must be a positive multiple of the node size: gpus=12, gpusPerNode=8"),
                run.err());
    }

    @Test
    void shouldNameAModelThatFitsNowhere() {
        Run run = run("plan", "placement", "--model", "70b", "--gpus", "8");

        assertEquals(2, run.exitCode());
        assertTrue(run.err().contains("model fits on no GPU count: role=actor, parameters=68976648192, gpus=8"),
                run.err());
    }

    @Test
    void shouldPlanWithBandwidthsCalibratedFromBenchJson(@TempDir Path dir) throws Exception {
        Path bench = dir.resolve("collectives.json");
        Files.writeString(bench, "{\"op\":\"all_gather\",\"size\":4194304,\"count\":1048576,\"type\":\"f32\","
                + "\"redop\":null,\"root\":0,\"inPlace\":false,\"timeUs\":200.0,\"algbw\":16.0,\"busbw\":12.5,"
                + "\"wrong\":0}\n");
        Run run = run("plan", "placement", "--algo", "grpo", "--gpus", "8", "--calibrate", bench.toString(), "--json");

        assertEquals(0, run.exitCode(), run.err());
        assertEquals("a100+calibrated", new ObjectMapper().readTree(run.out()).get("profile").asText());
    }

    @Test
    void shouldNameAMissingCalibrationFile(@TempDir Path dir) {
        Path missing = dir.resolve("none.json");
        Run run = run("plan", "placement", "--gpus", "8", "--calibrate", missing.toString());

        assertEquals(2, run.exitCode());
        assertTrue(run.err().contains("calibration file not found: calibrate=" + missing), run.err());
    }
}
