package io.yatt.trainer.loop;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.yatt.ffi.blas.Blas;
import io.yatt.trainer.config.TrainConfig;
import io.yatt.trainer.model.Gemm;
import io.yatt.trainer.model.LlamaConfig;
import io.yatt.trainer.run.MetricNames;
import io.yatt.trainer.run.StepMetrics;
import io.yatt.trainer.sft.Sft;
import io.yatt.trainer.task.Task;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.zip.CRC32C;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Golden runs: full resolved configs (every key pinned, so a change of a default does not move them) of a PPO/GAE
 * run, a GRPO run with {@code rollout.n = 2} and a Safe-RLHF run, 3 steps each on world 4 (training 1-2-2), started
 * from a pinned 20-step SFT policy. Their metrics (timings and throughput aside) and a CRC32C of the final actor's
 * weight bits must stay bit for bit what the loop produced when they were captured; a deliberate change of the math
 * regenerates a golden with {@code -Dyatt.golden.write=<folder>} and says why in its commit.
 */
class RlhfLoopGoldenTest {
    /** Pseudo-metric of the golden files: CRC32C of the final actor's weights (names sorted, float bits LE). */
    static final String WEIGHTS_CRC = "golden/actor_weights_crc32c";

    /**
     * OpenBLAS's kernel sets ({@code openblas_get_corename}, lower case) with goldens, and the suffix of their files:
     * {@code <name>.metrics} for SkylakeX (AVX-512), {@code <name>.haswell.metrics} for Haswell (AVX2).
     */
    static final Map<String, String> GOLDEN_CORES = Map.of("skylakex", "", "haswell", ".haswell");

    /**
     * The goldens were captured with OpenBLAS's sgemm ({@code scripts/test} installs Debian's libopenblas0 where it
     * may), once in its SkylakeX kernels and once in its Haswell kernels; the Java matrix multiply that stands in
     * without it, and OpenBLAS's other kernel sets, sum in other orders, so their bits differ and the golden
     * comparisons are skipped, saying why, instead of failing. {@code scripts/test} asks for the SkylakeX set on a
     * CPU with AVX-512 and for the Haswell set on one with AVX2 and FMA only ({@code OPENBLAS_CORETYPE}), so the
     * goldens run on either whatever OpenBLAS makes of the CPU. The goldens multiply with one OpenBLAS thread per
     * call from the SFT warm-up on, as {@code yatt train} does: with the Haswell kernels the bits depend on it.
     *
     * @return the suffix of the golden files for this kernel set
     */
    static String assumeGoldenBackend() {
        assumeTrue(Blas.available() && Blas.openBlas(), "the goldens were captured with OpenBLAS's sgemm, which is not"
                + " loaded here (install Debian's libopenblas0, or set YATT_BLAS_LIBRARY)");
        String core = Blas.coreName().orElse("unknown");
        String suffix = goldenSuffix(core);
        assumeTrue(suffix != null, "the goldens were captured with OpenBLAS's SkylakeX and Haswell kernels, this"
                + " OpenBLAS uses " + core + " (set OPENBLAS_CORETYPE=SkylakeX on a CPU with AVX-512, Haswell on one"
                + " with AVX2, as scripts/test does)");
        Gemm.oneBlasThreadPerCall();
        return suffix;
    }

    /**
     * The golden metrics of config {@code name} for the kernel set loaded; called after {@link #assumeGoldenBackend},
     * which skipped the test where there is none.
     */
    static String golden(String name) {
        String core = Blas.coreName().orElse("unknown");
        String suffix = goldenSuffix(core);
        if (suffix == null) {
            throw new IllegalStateException("no goldens for OpenBLAS's " + core + " kernels: call assumeGoldenBackend"
                    + " first");
        }
        return resource(name + suffix + ".metrics");
    }

    /** The suffix of the golden files of OpenBLAS kernel set {@code core}, or {@code null} when it has none. */
    private static String goldenSuffix(String core) {
        return GOLDEN_CORES.get(core.toLowerCase(Locale.ROOT));
    }

    @ParameterizedTest
    @ValueSource(strings = {"ppo_gae", "grpo_n2", "safe_rlhf"})
    void shouldReproduceTheGoldenMetricsBitForBit(String name) {
        String suffix = assumeGoldenBackend();
        String yaml = resource(name + ".yaml");
        TrainConfig config = TrainConfig.load(yaml, List.of());
        Task task = Task.fromConfig(config, RlhfLoopGoldenTest.class.getClassLoader());
        LlamaConfig model = Sft.modelConfig(config, task);
        Map<String, float[]> policy = Sft.train(model, task, new Sft.Settings(20, 16, 3e-3, 1), null).weights();
        RlhfLoop.Result result = RlhfLoop.run(config, task, model, policy, m -> { });
        String actual = format(result);
        String out = System.getProperty("yatt.golden.write");
        if (out != null) {
            try {
                Files.writeString(Path.of(out).resolve(name + suffix + ".metrics"), actual, StandardCharsets.UTF_8);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
        assertEquals(golden(name), actual, name);
    }

    /** Two parallel controllers (each driving one training DP slice) reproduce the same goldens bit for bit. */
    @ParameterizedTest
    @ValueSource(strings = {"ppo_gae", "grpo_n2", "safe_rlhf"})
    void shouldReproduceTheGoldenWithTwoControllers(String name) {
        assumeGoldenBackend();
        TrainConfig config = TrainConfig.load(resource(name + ".yaml"), List.of("trainer.controllers=2"));
        Task task = Task.fromConfig(config, RlhfLoopGoldenTest.class.getClassLoader());
        LlamaConfig model = Sft.modelConfig(config, task);
        Map<String, float[]> policy = Sft.train(model, task, new Sft.Settings(20, 16, 3e-3, 1), null).weights();
        assertEquals(golden(name), format(RlhfLoop.run(config, task, model, policy, m -> { })), name);
    }

    /**
     * Generation in passes of one sequence ({@code max_num_seqs=1}; two rows per replica here) samples the same
     * tokens, so every golden metric and the weights stay bit for bit; only the rollout's own log-probs may move in
     * their last bits (Haswell kernels), which {@code training/rollout_probs_diff_max} shows.
     */
    @Test
    void shouldReproduceTheGoldenWithGenerationInPassesOfOne() {
        assumeGoldenBackend();
        TrainConfig config = TrainConfig.load(resource("ppo_gae.yaml"),
                List.of("actor_rollout_ref.rollout.max_num_seqs=1"));
        Task task = Task.fromConfig(config, RlhfLoopGoldenTest.class.getClassLoader());
        LlamaConfig model = Sft.modelConfig(config, task);
        Map<String, float[]> policy = Sft.train(model, task, new Sft.Settings(20, 16, 3e-3, 1), null).weights();
        String diffMax = "\t" + RlhfLoop.ROLLOUT_PROBS_DIFF_MAX + "\t";
        List<String> expected = golden("ppo_gae").lines().filter(l -> !l.contains(diffMax)).toList();
        List<String> actual = format(RlhfLoop.run(config, task, model, policy, m -> { })).lines()
                .filter(l -> !l.contains(diffMax)).toList();
        assertEquals(expected, actual);
    }

    /** One line per step and metric, {@code step<TAB>name<TAB>Double.toString(value)} (exact round trip). */
    static String format(RlhfLoop.Result result) {
        StringBuilder sb = new StringBuilder();
        for (StepMetrics m : result.rows()) {
            for (Map.Entry<String, Double> e : stable(m).entrySet()) {
                sb.append(m.step()).append('\t').append(e.getKey()).append('\t').append(e.getValue()).append('\n');
            }
        }
        sb.append(result.lastStep()).append('\t').append("golden/initial_val_reward").append('\t')
                .append(result.initialValReward()).append('\n');
        sb.append(result.lastStep()).append('\t').append("golden/final_val_reward").append('\t')
                .append(result.finalValReward()).append('\n');
        sb.append(result.lastStep()).append('\t').append(WEIGHTS_CRC).append('\t')
                .append(weightsCrc(result.actorWeights())).append('\n');
        return sb.toString();
    }

    /**
     * The adaptive KL controller moves once a step, with the batch's responses as its steps (verl's
     * apply_kl_penalty): {@code beta' = beta * (1 + clamp(kl / target - 1, -0.2, 0.2) * samples / horizon)}, here
     * with ppo_gae's target 0.1, horizon 10000 and 8 samples. (Until 2026-12-02 the loop updated it a second time per
     * step, with the prompt count; this test fails on that.)
     */
    @Test
    void shouldMoveTheAdaptiveKlCoefficientOncePerStep() {
        TrainConfig config = TrainConfig.load(resource("ppo_gae.yaml"), List.of());
        Task task = Task.fromConfig(config, RlhfLoopGoldenTest.class.getClassLoader());
        LlamaConfig model = Sft.modelConfig(config, task);
        Map<String, float[]> policy = Sft.train(model, task, new Sft.Settings(20, 16, 3e-3, 1), null).weights();
        List<StepMetrics> rows = RlhfLoop.run(config, task, model, policy, m -> { }).rows();
        assertEquals(0.01, rows.getFirst().values().get(MetricNames.REWARD_KL_PENALTY_COEFF));
        for (int k = 0; k + 1 < rows.size(); k++) {
            double beta = rows.get(k).values().get(MetricNames.REWARD_KL_PENALTY_COEFF);
            double kl = rows.get(k).values().get(MetricNames.REWARD_KL_PENALTY);
            double error = Math.max(-0.2, Math.min(0.2, kl / 0.1 - 1));
            assertEquals(beta * (1 + error * 8 / 10000), rows.get(k + 1).values().get(
                    MetricNames.REWARD_KL_PENALTY_COEFF), "step " + (k + 2));
        }
    }

    static Map<String, Double> stable(StepMetrics m) {
        Map<String, Double> out = new TreeMap<>(m.values());
        out.keySet().removeIf(k -> k.startsWith(MetricNames.TIMING_PREFIX) || k.equals(MetricNames.THROUGHPUT));
        return out;
    }

    static long weightsCrc(Map<String, float[]> weights) {
        CRC32C crc = new CRC32C();
        for (String name : new TreeMap<>(weights).keySet()) {
            crc.update(name.getBytes(StandardCharsets.UTF_8));
            float[] w = weights.get(name);
            byte[] bytes = new byte[w.length * 4];
            for (int i = 0; i < w.length; i++) {
                int bits = Float.floatToRawIntBits(w[i]);
                bytes[4 * i] = (byte) bits;
                bytes[4 * i + 1] = (byte) (bits >>> 8);
                bytes[4 * i + 2] = (byte) (bits >>> 16);
                bytes[4 * i + 3] = (byte) (bits >>> 24);
            }
            crc.update(bytes);
        }
        return crc.getValue();
    }

    static String resource(String file) {
        try (InputStream in = RlhfLoopGoldenTest.class.getResourceAsStream("golden/" + file)) {
            if (in == null) {
                throw new IllegalStateException("golden resource missing: golden/" + file);
            }
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
