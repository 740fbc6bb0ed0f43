package io.yatt.trainer.model;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * A plain double-precision Llama forward written from the formulas (loops, no Gemm, no buffers shared with the
 * model): the reference for logits, log-probs, entropies, values and rewards, and the function that central finite
 * differences differentiate.
 */
final class Reference {
    final LlamaConfig config;
    final Head head;
    final int paddedVocab;
    final Map<String, double[]> w = new LinkedHashMap<>();

    Reference(LlamaConfig config, Head head, Map<String, float[]> whole, int vocabPadMultiple) {
        this.config = config;
        this.head = head;
        this.paddedVocab = config.paddedVocab(vocabPadMultiple);
        for (Map.Entry<String, float[]> e : whole.entrySet()) {
            double[] d = new double[e.getValue().length];
            for (int i = 0; i < d.length; i++) {
                d[i] = e.getValue()[i];
            }
            w.put(e.getKey(), d);
        }
    }

    /** Final-norm output {@code [B*T, C]}. */
    double[][] hidden(Batch batch) {
        int c = config.hiddenSize();
        int b = batch.batchSize();
        int t = batch.seqLen();
        int n = b * t;
        int[] pos = new int[n];
        LlamaModel.positions(batch.attentionMask(), b, t, pos, config.maxPositionEmbeddings());
        double[][] x = new double[n][c];
        double[] e = w.get("embed_tokens.weight");
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < c; j++) {
                x[i][j] = e[batch.tokens()[i] * c + j];
            }
        }
        int nh = config.numAttentionHeads();
        int kv = config.numKeyValueHeads();
        int hd = config.headDim();
        int f = config.intermediateSize();
        for (int l = 0; l < config.numHiddenLayers(); l++) {
            String p = "layers." + l + ".";
            double[][] h = rms(x, w.get(p + "input_layernorm.weight"));
            double[][] qkv = linear(h, w.get(p + "self_attn.qkv_proj.weight"), (nh + 2 * kv) * hd);
            for (int i = 0; i < n; i++) {
                for (int hh = 0; hh < nh + kv; hh++) {
                    rope(qkv[i], hh * hd, hd, pos[i]);
                }
            }
            double[][] y = new double[n][nh * hd];
            for (int s = 0; s < b; s++) {
                for (int hh = 0; hh < nh; hh++) {
                    int g = hh / (nh / kv);
                    for (int i = 0; i < t; i++) {
                        double[] sc = new double[t];
                        double max = Double.NEGATIVE_INFINITY;
                        for (int j = 0; j <= i; j++) {
                            if (batch.attentionMask()[s * t + j] == 0) {
                                continue;
                            }
                            double d = 0;
                            for (int k = 0; k < hd; k++) {
                                d += qkv[s * t + i][hh * hd + k] * qkv[s * t + j][(nh + g) * hd + k];
                            }
                            sc[j] = d / Math.sqrt(hd);
                            max = Math.max(max, sc[j]);
                        }
                        if (max == Double.NEGATIVE_INFINITY) {
                            continue;
                        }
                        double sum = 0;
                        double[] pr = new double[t];
                        for (int j = 0; j <= i; j++) {
                            if (batch.attentionMask()[s * t + j] != 0) {
                                pr[j] = Math.exp(sc[j] - max);
                                sum += pr[j];
                            }
                        }
                        for (int j = 0; j <= i; j++) {
                            for (int k = 0; k < hd; k++) {
                                y[s * t + i][hh * hd + k] += pr[j] / sum * qkv[s * t + j][(nh + kv + g) * hd + k];
                            }
                        }
                    }
                }
            }
            double[][] o = linear(y, w.get(p + "self_attn.o_proj.weight"), c);
            add(x, o);
            double[][] h2 = rms(x, w.get(p + "post_attention_layernorm.weight"));
            double[][] gu = linear(h2, w.get(p + "mlp.gate_up_proj.weight"), 2 * f);
            double[][] act = new double[n][f];
            for (int i = 0; i < n; i++) {
                for (int j = 0; j < f; j++) {
                    double a = gu[i][j];
                    act[i][j] = a / (1 + Math.exp(-a)) * gu[i][f + j];
                }
            }
            add(x, linear(act, w.get(p + "mlp.down_proj.weight"), c));
        }
        return rms(x, w.get("norm.weight"));
    }

    /** Logits over the padded vocabulary {@code [B*T, Vp]}. */
    double[][] logits(Batch batch) {
        double[] lm = w.containsKey("lm_head.weight") ? w.get("lm_head.weight") : w.get("embed_tokens.weight");
        return linear(hidden(batch), lm, paddedVocab);
    }

    /** {@code [0]} log-probs of the next token (0 at t = T-1), {@code [1]} entropies, at a temperature. */
    double[][] logProbsAndEntropy(Batch batch, double temperature) {
        double[][] z = logits(batch);
        int n = batch.rows();
        int t = batch.seqLen();
        int v = config.vocabSize();
        double[] lp = new double[n];
        double[] ent = new double[n];
        for (int i = 0; i < n; i++) {
            double max = Double.NEGATIVE_INFINITY;
            for (int j = 0; j < v; j++) {
                max = Math.max(max, z[i][j] / temperature);
            }
            double s = 0;
            for (int j = 0; j < v; j++) {
                s += Math.exp(z[i][j] / temperature - max);
            }
            double logZ = max + Math.log(s);
            double h = 0;
            for (int j = 0; j < v; j++) {
                double lpj = z[i][j] / temperature - logZ;
                h -= Math.exp(lpj) * lpj;
            }
            ent[i] = h;
            lp[i] = i % t < t - 1 ? z[i][batch.tokens()[i + 1]] / temperature - logZ : 0;
        }
        return new double[][] {lp, ent};
    }

    /** Value per token. */
    double[] values(Batch batch) {
        double[][] h = hidden(batch);
        double[] s = w.get("score.weight");
        double[] out = new double[h.length];
        for (int i = 0; i < h.length; i++) {
            for (int j = 0; j < s.length; j++) {
                out[i] += h[i][j] * s[j];
            }
        }
        return out;
    }

    double[][] rms(double[][] x, double[] g) {
        double[][] out = new double[x.length][x[0].length];
        for (int i = 0; i < x.length; i++) {
            double ss = 0;
            for (double v : x[i]) {
                ss += v * v;
            }
            double r = 1 / Math.sqrt(ss / x[i].length + config.rmsNormEps());
            for (int j = 0; j < x[i].length; j++) {
                out[i][j] = g[j] * x[i][j] * r;
            }
        }
        return out;
    }

    static double[][] linear(double[][] in, double[] wt, int out) {
        int inDim = in[0].length;
        double[][] r = new double[in.length][out];
        for (int i = 0; i < in.length; i++) {
            for (int o = 0; o < out; o++) {
                double s = 0;
                for (int k = 0; k < inDim; k++) {
                    s += in[i][k] * wt[o * inDim + k];
                }
                r[i][o] = s;
            }
        }
        return r;
    }

    void rope(double[] x, int off, int hd, int pos) {
        int half = hd / 2;
        for (int j = 0; j < half; j++) {
            double invFreq = 1.0 / Math.pow(config.ropeTheta(), 2.0 * j / hd);
            double c = Math.cos(pos * invFreq);
            double s = Math.sin(pos * invFreq);
            double a = x[off + j];
            double b = x[off + j + half];
            x[off + j] = a * c - b * s;
            x[off + j + half] = b * c + a * s;
        }
    }

    static void add(double[][] x, double[][] y) {
        for (int i = 0; i < x.length; i++) {
            for (int j = 0; j < x[i].length; j++) {
                x[i][j] += y[i][j];
            }
        }
    }
}
