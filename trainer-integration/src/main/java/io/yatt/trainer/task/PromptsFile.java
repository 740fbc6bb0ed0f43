package io.yatt.trainer.task;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.BufferedReader;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** Reads a custom task's prompts JSONL file: one object per non-blank line with prompt, optional answer and meta. */
final class PromptsFile {

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final List<String> FIELDS = List.of("prompt", "answer", "meta");

    private PromptsFile() {
    }

    static List<Prompt> read(Path path) {
        List<Prompt> prompts = new ArrayList<>();
        try (BufferedReader reader = Files.newBufferedReader(path, StandardCharsets.UTF_8)) {
            String line;
            int lineNumber = 0;
            while ((line = reader.readLine()) != null) {
                lineNumber++;
                if (!line.isBlank()) {
                    prompts.add(parse(path, lineNumber, line));
                }
            }
        } catch (IOException e) {
            throw new IllegalArgumentException("cannot read prompts file: path=" + path + ", error=" + e, e);
        }
        if (prompts.isEmpty()) {
            throw new IllegalArgumentException("prompts file has no prompts: path=" + path);
        }
        return prompts;
    }

    private static Prompt parse(Path path, int lineNumber, String line) {
        String where = "prompts file line " + lineNumber;
        JsonNode node;
        try {
            node = JSON.readTree(line);
        } catch (JsonProcessingException e) {
            throw new IllegalArgumentException(where + " is not JSON: path=" + path + ", error="
                    + e.getOriginalMessage(), e);
        }
        if (!node.isObject()) {
            throw new IllegalArgumentException(where + " is not a JSON object: path=" + path + ", line=" + line);
        }
        for (Iterator<String> names = node.fieldNames(); names.hasNext();) {
            String name = names.next();
            if (!FIELDS.contains(name)) {
                throw new IllegalArgumentException(where + " has an unknown field: path=" + path + ", field=" + name
                        + ", expected one of " + FIELDS);
            }
        }
        JsonNode prompt = node.get("prompt");
        if (prompt == null || !prompt.isTextual() || prompt.textValue().isEmpty()) {
            throw new IllegalArgumentException(where + " needs a non-empty string \"prompt\": path=" + path + ", line="
                    + line);
        }
        JsonNode answer = node.get("answer");
        if (answer != null && !answer.isTextual()) {
            throw new IllegalArgumentException(where + " has a non-string \"answer\": path=" + path + ", answer="
                    + answer);
        }
        JsonNode meta = node.get("meta");
        Map<String, Object> metaMap = new LinkedHashMap<>();
        if (meta != null) {
            if (!meta.isObject()) {
                throw new IllegalArgumentException(where + " has a \"meta\" that is not an object: path=" + path
                        + ", meta=" + meta);
            }
            if (meta.has(Prompt.ANSWER_KEY)) {
                throw new IllegalArgumentException(where + " has \"answer\" inside \"meta\"; put it at the top level: "
                        + "path=" + path);
            }
            @SuppressWarnings("unchecked")
            Map<String, Object> converted = JSON.convertValue(meta, Map.class);
            metaMap.putAll(converted);
        }
        String answerText = answer == null ? "" : answer.textValue();
        if (answer != null) {
            metaMap.put(Prompt.ANSWER_KEY, answerText);
        }
        return new Prompt(prompt.textValue(), answerText, metaMap);
    }
}
