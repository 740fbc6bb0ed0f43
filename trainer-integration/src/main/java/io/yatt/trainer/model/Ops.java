package io.yatt.trainer.model;

/**
 * The decoder's kernels on {@code float[]} buffers, each forward beside its backward (llm.c style). Shapes are named
 * N (rows, {@code B*T}), C (hidden), NH (query heads), KV (key/value heads), HD (head dim), F (MLP width). Backward
 * kernels accumulate ({@code +=}) into parameter gradients and into input gradients where the input is the residual
 * stream. Stateless; every method is thread-safe on disjoint buffers.
 */
final class Ops {

    private Ops() {
    }

    // ---- linear: out[N, O] = in[N, I] @ W[O, I]^T ----

    static void linearForward(float[] out, float[] in, float[] w, int n, int inDim, int outDim) {
        Gemm.sgemm(false, true, n, outDim, inDim, 1f, in, 0, inDim, w, 0, inDim, 0f, out, 0, outDim);
    }

    /** {@code dIn = dOut @ W} (overwritten) and {@code dW += dOut^T @ in}. */
    static void linearBackward(float[] dIn, float[] dW, float[] dOut, float[] in, float[] w, int n, int inDim,
                               int outDim) {
        if (dIn != null) {
            Gemm.sgemm(false, false, n, inDim, outDim, 1f, dOut, 0, outDim, w, 0, inDim, 0f, dIn, 0, inDim);
        }
        Gemm.sgemm(true, false, outDim, inDim, n, 1f, dOut, 0, outDim, in, 0, inDim, 1f, dW, 0, inDim);
    }

    // ---- RMSNorm: out = w * x / sqrt(mean(x^2) + eps) ----

    static void rmsNormForward(float[] out, float[] rstd, float[] x, float[] w, int n, int c, float eps) {
        for (int i = 0; i < n; i++) {
            int o = i * c;
            float ss = 0f;
            for (int j = 0; j < c; j++) {
                ss += x[o + j] * x[o + j];
            }
            float r = (float) (1.0 / Math.sqrt(ss / c + eps));
            rstd[i] = r;
            for (int j = 0; j < c; j++) {
                out[o + j] = w[j] * (x[o + j] * r);
            }
        }
    }

    /** {@code dx += d(out)/dx^T dOut}, {@code dw += sum_rows dOut * x * rstd}. */
    static void rmsNormBackward(float[] dx, float[] dw, float[] dOut, float[] x, float[] w, float[] rstd, int n,
                                int c) {
        for (int i = 0; i < n; i++) {
            int o = i * c;
            float r = rstd[i];
            float dot = 0f;
            for (int j = 0; j < c; j++) {
                float g = dOut[o + j] * w[j];
                dot += g * x[o + j];
                dw[j] += dOut[o + j] * x[o + j] * r;
            }
            float k = dot * r * r * r / c;
            for (int j = 0; j < c; j++) {
                dx[o + j] += dOut[o + j] * w[j] * r - x[o + j] * k;
            }
        }
    }

    // ---- rotary embedding, Hugging Face rotate_half: [x1, x2] -> [x1 c - x2 s, x2 c + x1 s] ----

    /**
     * Rotates {@code heads} heads of row {@code i} (at {@code offset + i*stride + h*hd}) by position {@code pos[i]};
     * {@code cos}/{@code sin} are {@code [positions, hd/2]}. With {@code inverse} it applies the transpose (the
     * backward).
     */
    static void rope(float[] x, int offset, int stride, int n, int heads, int hd, int[] pos, float[] cos,
                     float[] sin, boolean inverse) {
        int half = hd / 2;
        for (int i = 0; i < n; i++) {
            int p = pos[i] * half;
            for (int h = 0; h < heads; h++) {
                int o = offset + i * stride + h * hd;
                for (int j = 0; j < half; j++) {
                    float c = cos[p + j];
                    float s = inverse ? -sin[p + j] : sin[p + j];
                    float a = x[o + j];
                    float b = x[o + j + half];
                    x[o + j] = a * c - b * s;
                    x[o + j + half] = b * c + a * s;
                }
            }
        }
    }

    static void ropeTables(float[] cos, float[] sin, int positions, int hd, double theta) {
        int half = hd / 2;
        for (int j = 0; j < half; j++) {
            float invFreq = (float) (1.0 / Math.pow(theta, (2.0 * j) / hd));
            for (int p = 0; p < positions; p++) {
                float angle = p * invFreq;
                cos[p * half + j] = (float) Math.cos(angle);
                sin[p * half + j] = (float) Math.sin(angle);
            }
        }
    }

    // ---- SwiGLU: gu rows are [gate (F); up (F)], h = silu(gate) * up ----

    static void swigluForward(float[] h, float[] gu, int n, int f) {
        for (int i = 0; i < n; i++) {
            int g = i * 2 * f;
            int o = i * f;
            for (int j = 0; j < f; j++) {
                float a = gu[g + j];
                float silu = a / (1f + (float) Math.exp(-a));
                h[o + j] = silu * gu[g + f + j];
            }
        }
    }

    static void swigluBackward(float[] dGu, float[] dH, float[] gu, int n, int f) {
        for (int i = 0; i < n; i++) {
            int g = i * 2 * f;
            int o = i * f;
            for (int j = 0; j < f; j++) {
                float a = gu[g + j];
                float u = gu[g + f + j];
                float sig = 1f / (1f + (float) Math.exp(-a));
                float silu = a * sig;
                dGu[g + j] = dH[o + j] * u * sig * (1f + a * (1f - sig));
                dGu[g + f + j] = dH[o + j] * silu;
            }
        }
    }

    // ---- grouped-query causal attention with a key padding mask ----

    /**
     * For each sequence b and query head h (KV group {@code h / (NH/KV)}): {@code att = softmax(scale * Q K^T)} over
     * keys {@code j <= i} whose mask is 1 (a row without such a key is all zero), {@code y = att V}. {@code qkv} rows
     * are {@code [q (NH*HD); k (KV*HD); v (KV*HD)]}; {@code att} is {@code [B, NH, T, T]}; {@code y} is
     * {@code [B*T, NH*HD]}.
     */
    static void attentionForward(float[] y, float[] att, float[] qkv, int[] mask, int batch, int t, int nh, int kv,
                                 int hd) {
        int width = (nh + 2 * kv) * hd;
        int group = nh / kv;
        float scale = (float) (1.0 / Math.sqrt(hd));
        // one item per (sequence, query head): disjoint att blocks and y columns, so any thread count gives the
        // same bits
        Parallelism.forEach(batch * nh, item -> {
            int b = item / nh;
            int h = item % nh;
            int rowBase = b * t * width;
            int g = h / group;
            int q = rowBase + h * hd;
            int k = rowBase + (nh + g) * hd;
            int v = rowBase + (nh + kv + g) * hd;
            int a = (b * nh + h) * t * t;
            Gemm.sgemm(false, true, t, t, hd, scale, qkv, q, width, qkv, k, width, 0f, att, a, t);
            for (int i = 0; i < t; i++) {
                int r = a + i * t;
                float max = Float.NEGATIVE_INFINITY;
                for (int j = 0; j <= i; j++) {
                    if (mask[b * t + j] != 0 && att[r + j] > max) {
                        max = att[r + j];
                    }
                }
                if (max == Float.NEGATIVE_INFINITY) {
                    java.util.Arrays.fill(att, r, r + t, 0f);
                    continue;
                }
                float sum = 0f;
                for (int j = 0; j <= i; j++) {
                    float e = mask[b * t + j] != 0 ? (float) Math.exp(att[r + j] - max) : 0f;
                    att[r + j] = e;
                    sum += e;
                }
                float inv = 1f / sum;
                for (int j = 0; j <= i; j++) {
                    att[r + j] *= inv;
                }
                java.util.Arrays.fill(att, r + i + 1, r + t, 0f);
            }
            Gemm.sgemm(false, false, t, hd, t, 1f, att, a, t, qkv, v, width, 0f, y, b * t * nh * hd + h * hd,
                    nh * hd);
        });
    }

    /**
     * The backward of {@link #attentionForward}: writes {@code dQkv} (fully overwritten) from {@code dY}, using the
     * stored {@code att} and {@code qkv}; {@code scratch} holds {@code B*KV*T*T} floats (one {@code T*T} block per
     * sequence and KV group, the units the work is split into over {@link Parallelism#threads()}).
     */
    static void attentionBackward(float[] dQkv, float[] dY, float[] att, float[] qkv, float[] scratch, int batch,
                                  int t, int nh, int kv, int hd) {
        int width = (nh + 2 * kv) * hd;
        int group = nh / kv;
        float scale = (float) (1.0 / Math.sqrt(hd));
        java.util.Arrays.fill(dQkv, 0, batch * t * width, 0f);
        // one item per (sequence, KV group): the group's query heads add into its dK and dV in head order
        Parallelism.forEach(batch * kv, item -> {
            int b = item / kv;
            int g = item % kv;
            int rowBase = b * t * width;
            int sc = item * t * t;
            int k = rowBase + (nh + g) * hd;
            int v = rowBase + (nh + kv + g) * hd;
            for (int h = g * group; h < (g + 1) * group; h++) {
                int q = rowBase + h * hd;
                int a = (b * nh + h) * t * t;
                int dy = b * t * nh * hd + h * hd;
                // dP = dY V^T ; dV += P^T dY
                Gemm.sgemm(false, true, t, t, hd, 1f, dY, dy, nh * hd, qkv, v, width, 0f, scratch, sc, t);
                Gemm.sgemm(true, false, t, hd, t, 1f, att, a, t, dY, dy, nh * hd, 1f, dQkv, v, width);
                // dS = P * (dP - rowsum(P * dP))
                for (int i = 0; i < t; i++) {
                    int r = sc + i * t;
                    int ar = a + i * t;
                    float dot = 0f;
                    for (int j = 0; j <= i; j++) {
                        dot += att[ar + j] * scratch[r + j];
                    }
                    for (int j = 0; j <= i; j++) {
                        scratch[r + j] = att[ar + j] * (scratch[r + j] - dot);
                    }
                    java.util.Arrays.fill(scratch, r + i + 1, r + t, 0f);
                }
                // dQ = scale dS K ; dK += scale dS^T Q
                Gemm.sgemm(false, false, t, hd, t, scale, scratch, sc, t, qkv, k, width, 0f, dQkv, q, width);
                Gemm.sgemm(true, false, t, hd, t, scale, scratch, sc, t, qkv, q, width, 1f, dQkv, k, width);
            }
        });
    }
}
