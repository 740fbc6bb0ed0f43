package io.yatt.trainer.sft;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.yatt.trainer.model.Batch;
import io.yatt.trainer.model.Generator;
import io.yatt.trainer.model.Head;
import io.yatt.trainer.model.LlamaConfig;
import io.yatt.trainer.model.LlamaModel;
import io.yatt.trainer.model.LlamaWeights;
import io.yatt.trainer.task.CharTokenizer;
import io.yatt.trainer.task.Demonstration;
import io.yatt.trainer.task.Prompt;
import io.yatt.trainer.task.Task;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class SftTest {
    static final Task TASK = Task.addition(3, 512, 16);
    static final LlamaConfig CONFIG = LlamaConfig.of(32, 1, 2, 1, 48, TASK.tokenizer().vocabSize());

    /** The loss is the mean of -log p over answer and EOS tokens, each scored on its own unpadded sequence. */
    @Test
    void shouldComputeMeanAnswerNegativeLogLikelihood() {
        List<Demonstration> demos = TASK.demonstrations(3, 5);
        Map<String, float[]> w = LlamaWeights.random(CONFIG, Head.LANGUAGE_MODEL, 2, 1);
        double sum = 0;
        int count = 0;
        try (LlamaModel model = LlamaModel.create(CONFIG, Head.LANGUAGE_MODEL, w, null, 1)) {
            for (Demonstration d : demos) {
                int[] tok = d.tokens();
                float[] lp = new float[tok.length];
                model.logProbs(Batch.single(tok), 1f, lp, null);
                for (int j = d.promptTokenCount() - 1; j < tok.length - 1; j++) {
                    sum -= lp[j];
                    count++;
                }
            }
            model.zeroGrad();
            double loss = Sft.lossAndBackward(model, demos);
            assertEquals(sum / count, loss, 1e-5);
        }
    }

    @Test
    void shouldLowerTheLossOnDemonstrations() {
        Sft.Result r = Sft.train(CONFIG, TASK, new Sft.Settings(40, 16, 3e-3, 1), null);
        assertEquals(40, r.losses().length);
        double first = (r.losses()[0] + r.losses()[1]) / 2;
        double last = (r.losses()[38] + r.losses()[39]) / 2;
        assertTrue(last < first - 0.3, "loss " + first + " -> " + last);
    }

    /** Batched greedy evaluation equals scoring each prompt's own greedy continuation, generated alone. */
    @Test
    void shouldEvaluateMeanRewardOfGreedyResponses() {
        Map<String, float[]> w = Sft.train(CONFIG, TASK, new Sft.Settings(20, 16, 3e-3, 1), null).weights();
        List<Prompt> prompts = TASK.heldOutPrompts();
        double sum = 0;
        try (LlamaModel model = LlamaModel.create(CONFIG, Head.LANGUAGE_MODEL, w, null, 1)) {
            for (Prompt p : prompts) {
                int[] ids = TASK.tokenizer().encodePrompt(p.text());
                int[] r = Generator.create(model, 1, ids.length + 4).generate(List.of(ids),
                        new Generator.Sampling(4, 0f, 0, 1f, new int[] {CharTokenizer.EOS_ID}), new long[1])
                        .getFirst().tokens();
                sum += TASK.score(p, r, 0, r.length).reward();
            }
        }
        assertEquals(sum / prompts.size(), Sft.evaluate(CONFIG, w, 1, TASK, prompts, 4), 1e-12);
    }

    @Test
    void shouldRejectNonPositiveBatchSize() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> new Sft.Settings(1, 0, 1e-3, 1));
        assertEquals("sft batch size must be positive: batchSize=0", e.getMessage());
    }
}
