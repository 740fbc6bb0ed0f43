package io.yatt.trainer.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.PrintWriter;
import java.io.StringWriter;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

class PlanCommandTest {

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
    void shouldPrintTheDesignExampleGroupsAsJson() throws Exception {
        Run run = run("plan", "layout", "--train", "1-4-2", "--gen", "1-2-2", "--json");

        assertEquals(0, run.exitCode(), run.err());
        JsonNode json = new ObjectMapper().readTree(run.out());
        assertEquals("[[0,1,2,3],[4,5,6,7]]", json.get("tpGroups").toString());
        assertEquals("[[0],[1],[2],[3],[4],[5],[6],[7]]", json.get("ppGroups").toString());
        assertEquals("[[0,4],[1,5],[2,6],[3,7]]", json.get("dpGroups").toString());
        assertEquals("[[0,2],[1,3],[4,6],[5,7]]", json.get("genTpGroups").toString());
        assertEquals("[[0],[1],[2],[3],[4],[5],[6],[7]]", json.get("genPpGroups").toString());
        assertEquals("[[0,1],[2,3],[4,5],[6,7]]", json.get("microDpGroups").toString());
        assertEquals(8, json.get("ranks").size());
    }

    @Test
    void shouldAcceptThePapersFourPartGenerationLayout() throws Exception {
        Run threeParts = run("plan", "layout", "--train", "1-4-2", "--gen", "1-2-2", "--json");
        Run fourParts = run("plan", "layout", "--train", "1-4-2", "--gen", "1-2-2-2", "--json");

        assertEquals(0, fourParts.exitCode(), fourParts.err());
        assertEquals(threeParts.out(), fourParts.out());
    }

    @Test
    void shouldPrintGroupsAsText() {
        Run run = run("plan", "layout", "--train", "1-4-2", "--gen", "1-2-2");

        assertEquals(0, run.exitCode(), run.err());
        assertTrue(run.out().contains("microDpGroups  [[0, 1], [2, 3], [4, 5], [6, 7]]\n"), run.out());
        assertTrue(run.out().contains("genTpGroups    [[0, 2], [1, 3], [4, 6], [5, 7]]\n"), run.out());
    }

    @Test
    void shouldRejectGenerationTpThatDoesNotDivideTrainingTp() {
        Run run = run("plan", "layout", "--train", "1-4-2", "--gen", "1-3-1");

        assertEquals(2, run.exitCode());
        assertTrue(run.err().startsWith("generation TP must divide training TP: t=4, t_g=3"), run.err());
    }
}
