package io.yatt.controller.placement;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.List;
import java.util.Locale;
import java.util.Objects;

/**
 * One GPU's published (or measured) speeds and memory: the numbers the placement cost model divides by. Built-in
 * profiles {@code a100}, {@code h100}, {@code h200} are JSON resources that cite the vendor document each figure comes
 * from; {@link #calibrated} overrides the bandwidths with this project's own benchmark output. Immutable and
 * thread-safe.
 *
 * @param name short name, e.g. {@code a100}
 * @param device the device the figures describe
 * @param peakBf16FlopsPerS peak dense bf16 tensor-core FLOP/s
 * @param hbmBandwidthBytesPerS device memory bandwidth, bytes/s
 * @param hbmByteSize device memory capacity, bytes
 * @param nvlinkBandwidthBytesPerS intra-node GPU-to-GPU bandwidth per GPU in one direction, bytes/s
 * @param interNodeBandwidthBytesPerS inter-node network bandwidth per GPU in one direction, bytes/s
 * @param source where the figures come from
 */
public record DeviceProfile(String name, String device, double peakBf16FlopsPerS, double hbmBandwidthBytesPerS,
                            double hbmByteSize, double nvlinkBandwidthBytesPerS, double interNodeBandwidthBytesPerS,
                            String source) {

    /** The built-in profile names, each a resource {@code <name>.json} beside this class. */
    public static final List<String> BUILT_IN = List.of("a100", "h100", "h200");

    /** Bytes/s per GB/s as printed by {@code yatt bench collectives} ({@code algbw}, {@code busbw}). */
    static final double BYTES_PER_GB = 1e9;

    /** Ops of {@code yatt bench collectives --json} whose {@code busbw} calibrates the link bandwidths. */
    static final List<String> CALIBRATING_OPS = List.of("all_gather", "reduce_scatter", "all_reduce");

    /**
     * @throws IllegalArgumentException if a figure is not positive and finite
     */
    public DeviceProfile {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(device, "device");
        Objects.requireNonNull(source, "source");
        requirePositive(name, "peakBf16FlopsPerS", peakBf16FlopsPerS);
        requirePositive(name, "hbmBandwidthBytesPerS", hbmBandwidthBytesPerS);
        requirePositive(name, "hbmByteSize", hbmByteSize);
        requirePositive(name, "nvlinkBandwidthBytesPerS", nvlinkBandwidthBytesPerS);
        requirePositive(name, "interNodeBandwidthBytesPerS", interNodeBandwidthBytesPerS);
    }

    /**
     * A built-in profile by name (case-insensitive; {@code a100-80gb}, {@code h100-80gb}, {@code h200-141gb} also
     * accepted).
     *
     * @throws IllegalArgumentException if there is no such profile
     */
    public static DeviceProfile builtIn(String name) {
        String key = name == null ? "" : name.strip().toLowerCase(Locale.ROOT);
        int dash = key.indexOf('-');
        String base = dash < 0 ? key : key.substring(0, dash);
        if (!BUILT_IN.contains(base) || (dash >= 0 && !key.equals(base + "-" + memorySuffix(base)))) {
            throw new IllegalArgumentException(
                    "unknown device profile: profile=" + name + ", expected one of " + BUILT_IN + " or a JSON file");
        }
        try (InputStream in = DeviceProfile.class.getResourceAsStream(base + ".json")) {
            if (in == null) {
                throw new IllegalStateException("device profile resource missing: " + base + ".json");
            }
            return parse(in, base + ".json");
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read device profile: profile=" + base, e);
        }
    }

    private static String memorySuffix(String base) {
        return switch (base) {
            case "a100", "h100" -> "80gb";
            default -> "141gb";
        };
    }

    /**
     * Reads a profile from JSON with the fields of this record ({@code name}, {@code device},
     * {@code peakBf16FlopsPerS}, {@code hbmBandwidthBytesPerS}, {@code hbmByteSize}, {@code nvlinkBandwidthBytesPerS},
     * {@code interNodeBandwidthBytesPerS}, {@code source}).
     *
     * @param origin names the input in error messages
     * @throws IllegalArgumentException if the JSON is malformed or a field is missing or not positive
     * @throws IOException if reading fails
     */
    public static DeviceProfile parse(InputStream in, String origin) throws IOException {
        JsonNode node;
        try {
            node = new ObjectMapper().readTree(in);
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new IllegalArgumentException("malformed device profile JSON: origin=" + origin + ", "
                    + e.getOriginalMessage(), e);
        }
        if (node == null || !node.isObject()) {
            throw new IllegalArgumentException("device profile must be a JSON object: origin=" + origin);
        }
        return new DeviceProfile(text(node, "name", origin), text(node, "device", origin),
                number(node, "peakBf16FlopsPerS", origin), number(node, "hbmBandwidthBytesPerS", origin),
                number(node, "hbmByteSize", origin), number(node, "nvlinkBandwidthBytesPerS", origin),
                number(node, "interNodeBandwidthBytesPerS", origin), text(node, "source", origin));
    }

    /**
     * This profile with the bandwidths measured by this project's benchmarks, given as the JSON lines that
     * {@code yatt bench collectives --json} and {@code yatt bench reshard --json} print (any mix, one object per
     * line; blank lines and lines starting with {@code #} are skipped). Taken from them:
     * <ul>
     * <li>NVLink and inter-node bandwidth: the largest {@code busbw} (GB/s) of any all_gather, reduce_scatter or
     *     all_reduce line (one host: both links are the same path); without collectives lines, the largest
     *     {@code bytesReceivedPerRank / timeMs} of a {@code hybridflow} reshard line;</li>
     * <li>HBM bandwidth: the largest {@code bytesReceivedPerRank / floorMs} of any reshard line (the per-rank memory
     *     copy bandwidth while every rank copies at once).</li>
     * </ul>
     * FLOP/s and memory capacity are not measured by either benchmark and stay those of this profile.
     *
     * @throws IllegalArgumentException if a line is not JSON, or no line yields a bandwidth
     */
    public DeviceProfile calibrated(List<String> benchJsonLines) {
        ObjectMapper mapper = new ObjectMapper();
        double busBw = 0;
        double transitionBw = 0;
        double copyBw = 0;
        int lineNo = 0;
        for (String line : benchJsonLines) {
            lineNo++;
            String s = line.strip();
            if (s.isEmpty() || s.startsWith("#")) {
                continue;
            }
            JsonNode n;
            try {
                n = mapper.readTree(s);
            } catch (IOException e) {
                throw new IllegalArgumentException("benchmark line is not JSON: line=" + lineNo + ", text="
                        + abbreviate(s));
            }
            if (n.hasNonNull("busbw") && CALIBRATING_OPS.contains(n.path("op").asText())) {
                busBw = Math.max(busBw, n.get("busbw").asDouble() * BYTES_PER_GB);
            } else if (n.has("scheme") && n.hasNonNull("bytesReceivedPerRank")) {
                double bytes = n.get("bytesReceivedPerRank").asDouble();
                double floorMs = n.path("floorMs").asDouble(0);
                double timeMs = n.path("timeMs").asDouble(0);
                if (bytes > 0 && floorMs > 0) {
                    copyBw = Math.max(copyBw, bytes / (floorMs / 1e3));
                }
                if (bytes > 0 && timeMs > 0 && "hybridflow".equals(n.get("scheme").asText())) {
                    transitionBw = Math.max(transitionBw, bytes / (timeMs / 1e3));
                }
            }
        }
        double link = busBw > 0 ? busBw : transitionBw;
        if (link <= 0 && copyBw <= 0) {
            throw new IllegalArgumentException("no bandwidth in the benchmark output: lines=" + benchJsonLines.size()
                    + ", expected lines of 'yatt bench collectives --json' (op, busbw) or 'yatt bench reshard --json'"
                    + " (scheme, bytesReceivedPerRank, timeMs, floorMs)");
        }
        double nvlink = link > 0 ? link : nvlinkBandwidthBytesPerS;
        double inter = link > 0 ? link : interNodeBandwidthBytesPerS;
        double hbm = copyBw > 0 ? copyBw : hbmBandwidthBytesPerS;
        return new DeviceProfile(name + "+calibrated", device + " (bandwidths measured on this machine)",
                peakBf16FlopsPerS, hbm, hbmByteSize, nvlink, inter,
                "bandwidths from yatt bench JSON (links " + (busBw > 0 ? "collectives busbw" : link > 0
                        ? "reshard hybridflow bytesReceivedPerRank/timeMs" : "not measured") + ", memory "
                        + (copyBw > 0 ? "reshard bytesReceivedPerRank/floorMs" : "not measured")
                        + "); FLOP/s and capacity: " + source);
    }

    private static String abbreviate(String s) {
        return s.length() <= 60 ? s : s.substring(0, 60) + "...";
    }

    private static String text(JsonNode node, String field, String origin) {
        JsonNode v = node.get(field);
        if (v == null || !v.isTextual()) {
            throw new IllegalArgumentException("device profile field missing or not text: origin=" + origin
                    + ", field=" + field);
        }
        return v.asText();
    }

    private static double number(JsonNode node, String field, String origin) {
        JsonNode v = node.get(field);
        if (v == null || !v.isNumber()) {
            throw new IllegalArgumentException("device profile field missing or not a number: origin=" + origin
                    + ", field=" + field);
        }
        return v.asDouble();
    }

    private static void requirePositive(String name, String field, double value) {
        if (!(value > 0) || Double.isInfinite(value)) {
            throw new IllegalArgumentException("device profile figure must be positive: profile=" + name + ", "
                    + field + "=" + value);
        }
    }
}
