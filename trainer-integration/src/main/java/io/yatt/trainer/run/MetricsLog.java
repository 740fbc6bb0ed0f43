package io.yatt.trainer.run;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.BufferedWriter;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The run's metrics on disk: {@code metrics.jsonl} (one JSON object per step, appended and flushed every step) and
 * {@code metrics.csv} (a {@code step} column, then one column per metric name in first-seen order; when a step brings
 * a new name the whole file is rewritten through a temporary file and an atomic rename, so columns never move and a
 * reader never sees a half-written file). Non-finite values are JSON {@code null} and empty CSV cells. Mutable;
 * confined to the controller thread.
 */
public final class MetricsLog implements AutoCloseable {

    /** File name of the JSON lines log. */
    public static final String JSONL = "metrics.jsonl";
    /** File name of the CSV table. */
    public static final String CSV = "metrics.csv";

    private static final ObjectMapper JSON = new ObjectMapper();

    private final Path jsonlFile;
    private final Path csvFile;
    private final List<StepMetrics> rows;
    private final List<String> columns;
    private final Writer jsonl;
    private boolean closed;

    private MetricsLog(Path folder, List<StepMetrics> rows) throws IOException {
        this.jsonlFile = folder.resolve(JSONL);
        this.csvFile = folder.resolve(CSV);
        this.rows = new ArrayList<>(rows);
        this.columns = new ArrayList<>();
        for (StepMetrics row : rows) {
            addColumns(row);
        }
        StringBuilder text = new StringBuilder();
        for (StepMetrics row : rows) {
            text.append(jsonLine(row));
        }
        AtomicFiles.writeString(jsonlFile, text.toString());
        rewriteCsv();
        this.jsonl = Files.newBufferedWriter(jsonlFile, StandardCharsets.UTF_8, StandardOpenOption.APPEND);
    }

    /**
     * Opens the log of a run folder, keeping the steps up to {@code keepThroughStep} that an earlier run wrote (0 for
     * a fresh run, the checkpoint's step on resume, so that a resumed run's files equal an uninterrupted run's) and
     * rewriting both files to exactly those steps. A last line cut short by a crash is dropped.
     *
     * @throws UncheckedIOException if the files cannot be read or written
     * @throws IllegalArgumentException if an earlier line is not a metrics object, naming file and line
     */
    public static MetricsLog open(Path runFolder, long keepThroughStep) {
        try {
            Files.createDirectories(runFolder);
            List<StepMetrics> kept = new ArrayList<>();
            for (StepMetrics row : read(runFolder.resolve(JSONL))) {
                if (row.step() <= keepThroughStep) {
                    kept.add(row);
                }
            }
            return new MetricsLog(runFolder, kept);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot open metrics log: folder=" + runFolder, e);
        }
    }

    /**
     * Reads a {@code metrics.jsonl} file (missing: no rows); a last line cut short by a crash is ignored.
     *
     * @throws IllegalArgumentException if a line before the last is not a metrics object
     */
    public static List<StepMetrics> read(Path jsonlFile) throws IOException {
        if (!Files.exists(jsonlFile)) {
            return List.of();
        }
        List<String> lines = Files.readAllLines(jsonlFile, StandardCharsets.UTF_8);
        List<StepMetrics> rows = new ArrayList<>(lines.size());
        for (int i = 0; i < lines.size(); i++) {
            String line = lines.get(i);
            if (line.isBlank()) {
                continue;
            }
            try {
                rows.add(parse(line));
            } catch (JsonProcessingException | IllegalArgumentException e) {
                if (i == lines.size() - 1) {
                    break;
                }
                throw new IllegalArgumentException("metrics line is not a metrics object: path=" + jsonlFile
                        + ", line=" + (i + 1) + ", text=" + line, e);
            }
        }
        return rows;
    }

    private static StepMetrics parse(String line) throws JsonProcessingException {
        JsonNode node = JSON.readTree(line);
        if (!node.isObject() || !node.has("step") || !node.get("step").canConvertToLong()) {
            throw new IllegalArgumentException("no integer step");
        }
        Map<String, Double> values = new LinkedHashMap<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = node.properties().iterator(); it.hasNext();) {
            Map.Entry<String, JsonNode> field = it.next();
            if (field.getKey().equals("step")) {
                continue;
            }
            JsonNode value = field.getValue();
            if (value.isNull()) {
                values.put(field.getKey(), Double.NaN);
            } else if (value.isNumber()) {
                values.put(field.getKey(), value.doubleValue());
            } else {
                throw new IllegalArgumentException("not a number: " + field.getKey());
            }
        }
        return new StepMetrics(node.get("step").longValue(), values);
    }

    /**
     * Appends one step to both files; the JSON line is flushed before this returns.
     *
     * @throws IllegalArgumentException if the step is not after the last logged step
     * @throws IllegalStateException if the log is closed
     * @throws UncheckedIOException if a file cannot be written
     */
    public void append(StepMetrics metrics) {
        if (closed) {
            throw new IllegalStateException("metrics log is closed: path=" + jsonlFile);
        }
        if (!rows.isEmpty() && metrics.step() <= rows.getLast().step()) {
            throw new IllegalArgumentException("metrics step not after the last one: step=" + metrics.step()
                    + ", last=" + rows.getLast().step());
        }
        for (String name : metrics.values().keySet()) {
            MetricsTracker.checkName(name);
        }
        try {
            jsonl.write(jsonLine(metrics));
            jsonl.flush();
            rows.add(metrics);
            if (addColumns(metrics)) {
                rewriteCsv();
            } else {
                try (Writer csv = Files.newBufferedWriter(csvFile, StandardCharsets.UTF_8, StandardOpenOption.APPEND)) {
                    csv.write(csvLine(metrics));
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot append metrics: path=" + jsonlFile + ", step=" + metrics.step(), e);
        }
    }

    /** Every logged step, oldest first; unmodifiable view. */
    public List<StepMetrics> rows() {
        return Collections.unmodifiableList(rows);
    }

    /** The CSV's metric columns after {@code step}, in order; unmodifiable view. */
    public List<String> columns() {
        return Collections.unmodifiableList(columns);
    }

    /**
     * Closes the JSON lines file.
     *
     * @throws IllegalStateException on a second close
     */
    @Override
    public void close() {
        if (closed) {
            throw new IllegalStateException("metrics log already closed: path=" + jsonlFile);
        }
        closed = true;
        try {
            jsonl.close();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot close metrics log: path=" + jsonlFile, e);
        }
    }

    private boolean addColumns(StepMetrics metrics) {
        boolean added = false;
        for (String name : metrics.values().keySet()) {
            if (!columns.contains(name)) {
                columns.add(name);
                added = true;
            }
        }
        return added;
    }

    private void rewriteCsv() throws IOException {
        AtomicFiles.write(csvFile, out -> {
            Writer writer = new BufferedWriter(new java.io.OutputStreamWriter(out, StandardCharsets.UTF_8));
            writer.write("step");
            for (String column : columns) {
                writer.write(',');
                writer.write(column);
            }
            writer.write('\n');
            for (StepMetrics row : rows) {
                writer.write(csvLine(row));
            }
            writer.flush();
        });
    }

    private String csvLine(StepMetrics row) {
        StringBuilder sb = new StringBuilder().append(row.step());
        for (String column : columns) {
            sb.append(',');
            double value = row.value(column);
            if (Double.isFinite(value)) {
                sb.append(value);
            }
        }
        return sb.append('\n').toString();
    }

    private static String jsonLine(StepMetrics row) {
        ObjectNode node = JSON.createObjectNode();
        node.put("step", row.step());
        for (Map.Entry<String, Double> entry : row.values().entrySet()) {
            if (Double.isFinite(entry.getValue())) {
                node.put(entry.getKey(), entry.getValue());
            } else {
                node.putNull(entry.getKey());
            }
        }
        return node + "\n";
    }
}
