package io.yatt.trainer.run;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.yatt.trainer.task.PromptSampler;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Iterator;
import java.util.Map;
import java.util.TreeMap;

/**
 * The loop's own state in a checkpoint, beside the weights and optimiser state: the step, the prompt sampler's
 * position, the KL controller's coefficient, the Safe-RLHF multiplier and named counters (RNG streams as seed plus
 * draws, for example). Written as {@value #FILE}; doubles round-trip bit for bit.
 *
 * @param step global steps completed
 * @param sampler the prompt sampler's position
 * @param klCoef the KL coefficient after the step (fixed or adaptive)
 * @param lagrangeMultiplier the Safe-RLHF multiplier after the step (0 for other estimators)
 * @param counters named 64-bit counters, sorted by name; unmodifiable
 */
public record TrainerState(long step, PromptSampler.State sampler, double klCoef, double lagrangeMultiplier,
        Map<String, Long> counters) {

    /** File name inside a checkpoint folder. */
    public static final String FILE = "trainer_state.json";

    private static final ObjectMapper JSON = new ObjectMapper();

    /** Copies the counters into a sorted, unmodifiable map. */
    public TrainerState {
        counters = java.util.Collections.unmodifiableMap(new TreeMap<>(counters));
    }

    /**
     * Writes {@value #FILE} into a checkpoint's temporary folder (from a {@link CheckpointPayload}).
     *
     * @throws IOException if the file cannot be written
     */
    public void writeTo(Path folder) throws IOException {
        ObjectNode node = JSON.createObjectNode();
        node.put("step", step);
        node.put("sampler_epoch", sampler.epoch());
        node.put("sampler_position", sampler.position());
        node.put("kl_coef", klCoef);
        node.put("lagrange_multiplier", lagrangeMultiplier);
        ObjectNode countersNode = node.putObject("counters");
        counters.forEach(countersNode::put);
        Files.writeString(folder.resolve(FILE), JSON.writerWithDefaultPrettyPrinter().writeValueAsString(node) + "\n",
                StandardCharsets.UTF_8);
    }

    /**
     * Reads {@value #FILE} from a verified checkpoint.
     *
     * @throws CheckpointException if the file is missing or a field is missing or ill-typed, naming the file and field
     */
    public static TrainerState read(Checkpoint checkpoint) {
        Path file = checkpoint.file(FILE);
        JsonNode node;
        try {
            node = JSON.readTree(file.toFile());
        } catch (IOException e) {
            throw new CheckpointException("cannot read trainer state: path=" + file + ", error=" + e.getMessage(), e);
        }
        long step = integral(node, "step", file);
        if (step != checkpoint.step()) {
            throw new CheckpointException("trainer state step does not match its checkpoint: path=" + file
                    + ", state step=" + step + ", checkpoint step=" + checkpoint.step());
        }
        long position = integral(node, "sampler_position", file);
        Map<String, Long> counters = new TreeMap<>();
        JsonNode countersNode = node.path("counters");
        if (!countersNode.isObject()) {
            throw new CheckpointException("trainer state lacks an object field: path=" + file + ", field=counters");
        }
        for (Iterator<Map.Entry<String, JsonNode>> it = countersNode.properties().iterator(); it.hasNext();) {
            Map.Entry<String, JsonNode> entry = it.next();
            counters.put(entry.getKey(), integral(countersNode, entry.getKey(), file));
        }
        return new TrainerState(step, new PromptSampler.State(integral(node, "sampler_epoch", file),
                Math.toIntExact(position)), number(node, "kl_coef", file), number(node, "lagrange_multiplier", file),
                counters);
    }

    private static long integral(JsonNode node, String field, Path file) {
        JsonNode value = node.get(field);
        if (value == null || !value.isIntegralNumber() || !value.canConvertToLong()) {
            throw new CheckpointException("trainer state lacks an integer field: path=" + file + ", field=" + field);
        }
        return value.longValue();
    }

    private static double number(JsonNode node, String field, Path file) {
        JsonNode value = node.get(field);
        if (value == null || !value.isNumber()) {
            throw new CheckpointException("trainer state lacks a number field: path=" + file + ", field=" + field);
        }
        return value.doubleValue();
    }
}
