package io.yatt.trainer.algo;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * The package used the way a PPO loop uses it: sample, score, estimate advantages, take clipped-loss gradients with
 * respect to the log-probabilities and back-propagate them through a log-softmax by hand.
 */
class PpoStepTest {

    private static final int VOCAB = 4;
    private static final int SEQ = 3;
    private static final int PROMPTS = 4;
    private static final int SAMPLES = 4;

    /** Reward of a response: the fraction of its tokens equal to token 0. */
    private static float reward(int[] tokens) {
        int hits = 0;
        for (int tok : tokens) {
            hits += tok == 0 ? 1 : 0;
        }
        return (float) hits / tokens.length;
    }

    @Test
    void shouldRaiseRewardOfAContextFreePolicyWithGrpoAndVanillaClipGradients() {
        // Policy: one logit per token, shared by all positions. Initially uniform: expected reward 1/4.
        float[] theta = new float[VOCAB];
        SplittableRandom random = new SplittableRandom(7);
        String[] estimators = {"grpo", "rloo", "reinforce_plus_plus_baseline"};
        double lastMean = 0;
        for (int iter = 0; iter < 60; iter++) {
            int batch = PROMPTS * SAMPLES;
            int[][] tokens = new int[batch][SEQ];
            float[] logits = new float[batch * SEQ * VOCAB];
            for (int b = 0; b < batch; b++) {
                for (int t = 0; t < SEQ; t++) {
                    System.arraycopy(theta, 0, logits, (b * SEQ + t) * VOCAB, VOCAB);
                    tokens[b][t] = sample(theta, random);
                }
            }
            BatchTensor oldLogProb = TensorFunctions.logprobsFromLogits(logits, VOCAB, tokens);
            float[][] rewards = new float[batch][SEQ];
            int[] ids = new int[batch];
            double mean = 0;
            for (int b = 0; b < batch; b++) {
                rewards[b][SEQ - 1] = reward(tokens[b]);
                ids[b] = b / SAMPLES;
                mean += rewards[b][SEQ - 1] / batch;
            }
            lastMean = mean;
            BatchTensor mask = BatchTensor.filled(batch, SEQ, 1f);
            AdvantageInput in = AdvantageInput.builder(BatchTensor.of(rewards), mask).groupIds(ids).build();
            BatchTensor adv = AlgorithmRegistry.advantageEstimator(estimators[iter % estimators.length])
                    .estimate(in, AdvantageConfig.DEFAULTS).advantages();
            for (int epoch = 0; epoch < 2; epoch++) {
                BatchTensor logProb = TensorFunctions.logprobsFromLogits(logitsOf(theta, batch), VOCAB, tokens);
                PolicyLossResult loss = AlgorithmRegistry.policyLoss("vanilla").compute(
                        PolicyLossInput.of(oldLogProb, logProb, adv, mask), LossAggMode.TOKEN_MEAN,
                        PolicyLossConfig.DEFAULTS);
                // d lp(y) / d theta_v = [v == y] - softmax(theta)_v.
                double[] p = softmax(theta);
                double[] grad = new double[VOCAB];
                for (int b = 0; b < batch; b++) {
                    for (int t = 0; t < SEQ; t++) {
                        float g = loss.gradLogProb().get(b, t);
                        for (int v = 0; v < VOCAB; v++) {
                            grad[v] += g * ((v == tokens[b][t] ? 1 : 0) - p[v]);
                        }
                    }
                }
                for (int v = 0; v < VOCAB; v++) {
                    theta[v] -= (float) (2.0 * grad[v]);
                }
            }
        }
        // Gradient descent on the loss must have moved the policy towards token 0.
        assertTrue(lastMean > 0.8, "mean reward after training: " + lastMean);
        assertTrue(softmax(theta)[0] > 0.8, "p(token 0) = " + softmax(theta)[0]);
    }

    private static float[] logitsOf(float[] theta, int batch) {
        float[] logits = new float[batch * SEQ * VOCAB];
        for (int i = 0; i < batch * SEQ; i++) {
            System.arraycopy(theta, 0, logits, i * VOCAB, VOCAB);
        }
        return logits;
    }

    private static double[] softmax(float[] theta) {
        double max = Double.NEGATIVE_INFINITY;
        for (float x : theta) {
            max = Math.max(max, x);
        }
        double[] p = new double[theta.length];
        double s = 0;
        for (int v = 0; v < theta.length; v++) {
            p[v] = Math.exp(theta[v] - max);
            s += p[v];
        }
        for (int v = 0; v < theta.length; v++) {
            p[v] /= s;
        }
        return p;
    }

    private static int sample(float[] theta, SplittableRandom random) {
        double[] p = softmax(theta);
        double u = random.nextDouble();
        for (int v = 0; v < p.length; v++) {
            u -= p[v];
            if (u < 0) {
                return v;
            }
        }
        return p.length - 1;
    }
}
