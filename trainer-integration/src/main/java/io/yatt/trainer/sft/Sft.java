package io.yatt.trainer.sft;

import io.yatt.trainer.config.TrainConfig;
import io.yatt.trainer.model.AdamW;
import io.yatt.trainer.model.Batch;
import io.yatt.trainer.model.Generator;
import io.yatt.trainer.model.Gradients;
import io.yatt.trainer.model.Head;
import io.yatt.trainer.model.LlamaConfig;
import io.yatt.trainer.model.LlamaModel;
import io.yatt.trainer.model.LlamaWeights;
import io.yatt.trainer.task.CharTokenizer;
import io.yatt.trainer.task.Demonstration;
import io.yatt.trainer.task.Prompt;
import io.yatt.trainer.task.Task;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;

/**
 * Supervised fine-tuning on a task's demonstrations (cross-entropy on the answer and EOS tokens, through the model's
 * log-probabilities and their gradient), and held-out evaluation: greedy generation scored by the task's reward.
 */
public final class Sft {

    /** Steps of the embedded default warm start ({@code yatt sft} and {@code yatt train}). */
    public static final int DEFAULT_STEPS = 400;

    private Sft() {
    }

    /**
     * SFT settings.
     *
     * @param steps optimiser steps
     * @param batchSize demonstrations per step
     * @param lr AdamW learning rate (constant)
     * @param seed seed of the random initial weights and of the demonstration order
     */
    public record Settings(int steps, int batchSize, double lr, long seed) {

        /** The embedded default warm start: short, so the policy is partly right and RL has room to improve. */
        public static final Settings DEFAULT = new Settings(DEFAULT_STEPS, 32, 3e-3, 1);

        /**
         * @throws IllegalArgumentException naming a value out of range
         */
        public Settings {
            if (steps < 0) {
                throw new IllegalArgumentException("sft steps must be non-negative: steps=" + steps);
            }
            if (batchSize <= 0) {
                throw new IllegalArgumentException("sft batch size must be positive: batchSize=" + batchSize);
            }
            if (!(lr > 0) || Double.isInfinite(lr)) {
                throw new IllegalArgumentException("sft learning rate must be positive and finite: lr=" + lr);
            }
        }
    }

    /**
     * The result of a warm start.
     *
     * @param weights whole (unsharded) weights, vocabulary padded to a multiple of 1
     * @param losses the mean cross-entropy per answer token of every step
     */
    public record Result(Map<String, float[]> weights, double[] losses) {
    }

    /** The policy's model config: the run's model sizes over the task's vocabulary. */
    public static LlamaConfig modelConfig(TrainConfig config, Task task) {
        TrainConfig.Model m = config.actorRolloutRef().model();
        return LlamaConfig.of(m.hiddenSize(), m.numHiddenLayers(), m.numAttentionHeads(), m.numKeyValueHeads(),
                m.intermediateSize(), task.tokenizer().vocabSize());
    }

    /**
     * Trains seeded random weights on the task's demonstrations on one rank. Each step takes the next
     * {@code batchSize} demonstrations, right-padded, and minimises their mean negative log-likelihood per answer
     * token (answer and EOS), with global-norm clipping at 1.
     *
     * @param log receives one line every 25 steps and at the end
     * @throws IllegalArgumentException if the task has no answers or the model does not fit the task's vocabulary
     */
    public static Result train(LlamaConfig config, Task task, Settings settings, Consumer<String> log) {
        Map<String, float[]> init = LlamaWeights.random(config, Head.LANGUAGE_MODEL, settings.seed(), 1);
        List<Demonstration> demos = task.demonstrations(settings.steps() * settings.batchSize(), settings.seed());
        double[] losses = new double[settings.steps()];
        try (LlamaModel model = LlamaModel.create(config, Head.LANGUAGE_MODEL, init, null, 1)) {
            AdamW adam = AdamW.create(model.parameters(), new AdamW.Settings(0.9, 0.999, 1e-8, 0.0));
            for (int step = 0; step < settings.steps(); step++) {
                List<Demonstration> batch = demos.subList(step * settings.batchSize(),
                        (step + 1) * settings.batchSize());
                model.zeroGrad();
                losses[step] = lossAndBackward(model, batch);
                Gradients.clipGlobalNorm(model.parameters(), 1.0, null);
                adam.step(settings.lr());
                if (log != null && ((step + 1) % 25 == 0 || step + 1 == settings.steps())) {
                    log.accept(String.format("sft step %d/%d loss=%.4f", step + 1, settings.steps(), losses[step]));
                }
            }
            return new Result(model.wholeWeights(), losses);
        }
    }

    /**
     * Mean negative log-likelihood per answer token of the demonstrations, and its gradient accumulated into the
     * model's parameters.
     */
    static double lossAndBackward(LlamaModel model, List<Demonstration> demos) {
        int b = demos.size();
        int t = 0;
        for (Demonstration d : demos) {
            t = Math.max(t, d.tokens().length);
        }
        int[] tokens = new int[b * t];
        int[] mask = new int[b * t];
        float[] weight = new float[b * t];
        int count = 0;
        for (int i = 0; i < b; i++) {
            Demonstration d = demos.get(i);
            int[] tok = d.tokens();
            for (int j = 0; j < tok.length; j++) {
                tokens[i * t + j] = tok[j];
                mask[i * t + j] = 1;
            }
            // position j predicts token j+1: the answer and EOS are tokens promptTokenCount..len-1
            for (int j = d.promptTokenCount() - 1; j < tok.length - 1; j++) {
                weight[i * t + j] = 1f;
                count++;
            }
        }
        float[] logProbs = new float[b * t];
        model.logProbs(new Batch(b, t, tokens, mask), 1f, logProbs, null);
        double loss = 0;
        float[] grad = new float[b * t];
        for (int i = 0; i < b * t; i++) {
            if (weight[i] != 0f) {
                loss -= logProbs[i];
                grad[i] = -1f / count;
            }
        }
        model.backwardLogProbs(grad, null);
        return loss / count;
    }

    /**
     * Mean reward of greedy responses of at most {@code responseLength} tokens (stopping at EOS) to the prompts, in
     * batches of 64 on one rank.
     *
     * @param weights whole weights with the vocabulary padded to a multiple of {@code vocabPadMultiple}
     * @throws IllegalArgumentException if the prompts are empty or a weight is missing or misshaped
     */
    public static double evaluate(LlamaConfig config, Map<String, float[]> weights, int vocabPadMultiple, Task task,
                                  List<Prompt> prompts, int responseLength) {
        if (prompts.isEmpty()) {
            throw new IllegalArgumentException("evaluation needs prompts: prompts=0");
        }
        CharTokenizer tok = task.tokenizer();
        int maxPrompt = 0;
        List<int[]> encoded = new ArrayList<>(prompts.size());
        for (Prompt p : prompts) {
            int[] ids = tok.encodePrompt(p.text());
            encoded.add(ids);
            maxPrompt = Math.max(maxPrompt, ids.length);
        }
        Generator.Sampling greedy = new Generator.Sampling(responseLength, 0f, 0, 1f,
                new int[] {CharTokenizer.EOS_ID});
        int chunk = 64;
        double sum = 0;
        try (LlamaModel model = LlamaModel.create(config, Head.LANGUAGE_MODEL, weights, null, vocabPadMultiple)) {
            List<Generator.Sample> samples = Generator.create(model, Math.min(chunk, prompts.size()),
                    maxPrompt + responseLength).generateAll(encoded, greedy, new long[prompts.size()]);
            for (int i = 0; i < prompts.size(); i++) {
                int[] r = samples.get(i).tokens();
                sum += task.score(prompts.get(i), r, 0, r.length).reward();
            }
        }
        return sum / prompts.size();
    }
}
