package io.yatt.trainer.model;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.SplittableRandom;
import java.util.function.ToDoubleFunction;
import org.junit.jupiter.api.Test;

/**
 * Each kernel's f32 backward against central differences (step 1e-6) of an f64 re-statement of its forward, for the
 * loss {@code sum(r * out)} with random r: within {@code 1e-4 + 1e-3 * |fd|}.
 */
class OpsTest {
    static final double STEP = 1e-6;
    static final double ATOL = 1e-4;
    static final double RTOL = 1e-3;

    final SplittableRandom rng = new SplittableRandom(17);

    float[] random(int n, double scale) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) {
            a[i] = (float) (scale * (rng.nextDouble() * 2 - 1));
        }
        return a;
    }

    static double[] toDouble(float[] a) {
        double[] d = new double[a.length];
        for (int i = 0; i < a.length; i++) {
            d[i] = a[i];
        }
        return d;
    }

    static double dot(double[] a, float[] r) {
        double s = 0;
        for (int i = 0; i < a.length; i++) {
            s += a[i] * r[i];
        }
        return s;
    }

    /** Compares {@code analytic} with central differences of {@code loss} over every element of {@code x}. */
    static void check(String what, float[] analytic, double[] x, ToDoubleFunction<double[]> loss) {
        for (int i = 0; i < x.length; i++) {
            double saved = x[i];
            x[i] = saved + STEP;
            double up = loss.applyAsDouble(x);
            x[i] = saved - STEP;
            double down = loss.applyAsDouble(x);
            x[i] = saved;
            double fd = (up - down) / (2 * STEP);
            assertTrue(Math.abs(analytic[i] - fd) <= ATOL + RTOL * Math.abs(fd),
                    what + "[" + i + "]: analytic=" + analytic[i] + ", finite difference=" + fd);
        }
    }

    @Test
    void shouldDifferentiateLinear() {
        int n = 3;
        int in = 5;
        int out = 4;
        float[] x = random(n * in, 1);
        float[] w = random(out * in, 1);
        float[] r = random(n * out, 1);
        float[] dx = new float[n * in];
        float[] dw = new float[out * in];
        Ops.linearBackward(dx, dw, r, x, w, n, in, out);
        double[] xd = toDouble(x);
        double[] wd = toDouble(w);
        ToDoubleFunction<double[]> loss = ignored -> dot(flatten(Reference.linear(rows(xd, n, in), wd, out)), r);
        check("dx", dx, xd, loss);
        check("dw", dw, wd, loss);
    }

    @Test
    void shouldDifferentiateRmsNorm() {
        int n = 3;
        int c = 6;
        float eps = 1e-5f;
        float[] x = random(n * c, 2);
        float[] w = random(c, 1.5);
        float[] r = random(n * c, 1);
        float[] out = new float[n * c];
        float[] rstd = new float[n];
        Ops.rmsNormForward(out, rstd, x, w, n, c, eps);
        float[] dx = new float[n * c];
        float[] dw = new float[c];
        Ops.rmsNormBackward(dx, dw, r, x, w, rstd, n, c);
        double[] xd = toDouble(x);
        double[] wd = toDouble(w);
        ToDoubleFunction<double[]> loss = ignored -> {
            double s = 0;
            for (int i = 0; i < n; i++) {
                double ss = 0;
                for (int j = 0; j < c; j++) {
                    ss += xd[i * c + j] * xd[i * c + j];
                }
                double rr = 1 / Math.sqrt(ss / c + eps);
                for (int j = 0; j < c; j++) {
                    s += r[i * c + j] * wd[j] * xd[i * c + j] * rr;
                }
            }
            return s;
        };
        check("dx", dx, xd, loss);
        check("dw", dw, wd, loss);
    }

    @Test
    void shouldDifferentiateRotaryEmbedding() {
        int n = 3;
        int heads = 2;
        int hd = 4;
        int width = heads * hd;
        int[] pos = {0, 5, 2};
        double theta = 100.0;
        float[] cos = new float[8 * hd / 2];
        float[] sin = new float[8 * hd / 2];
        Ops.ropeTables(cos, sin, 8, hd, theta);
        float[] x = random(n * width, 1);
        float[] r = random(n * width, 1);
        float[] dx = r.clone();
        Ops.rope(dx, 0, width, n, heads, hd, pos, cos, sin, true);
        double[] xd = toDouble(x);
        ToDoubleFunction<double[]> loss = ignored -> {
            double s = 0;
            for (int i = 0; i < n; i++) {
                for (int h = 0; h < heads; h++) {
                    int o = i * width + h * hd;
                    for (int j = 0; j < hd / 2; j++) {
                        double f = pos[i] / Math.pow(theta, 2.0 * j / hd);
                        double a = xd[o + j];
                        double b = xd[o + j + hd / 2];
                        s += r[o + j] * (a * Math.cos(f) - b * Math.sin(f))
                                + r[o + j + hd / 2] * (b * Math.cos(f) + a * Math.sin(f));
                    }
                }
            }
            return s;
        };
        check("dx", dx, xd, loss);
    }

    @Test
    void shouldDifferentiateSwiglu() {
        int n = 2;
        int f = 5;
        float[] gu = random(n * 2 * f, 3);
        float[] r = random(n * f, 1);
        float[] dgu = new float[n * 2 * f];
        Ops.swigluBackward(dgu, r, gu, n, f);
        double[] gd = toDouble(gu);
        ToDoubleFunction<double[]> loss = ignored -> {
            double s = 0;
            for (int i = 0; i < n; i++) {
                for (int j = 0; j < f; j++) {
                    double a = gd[i * 2 * f + j];
                    s += r[i * f + j] * a / (1 + Math.exp(-a)) * gd[i * 2 * f + f + j];
                }
            }
            return s;
        };
        check("dgu", dgu, gd, loss);
    }

    @Test
    void shouldDifferentiateGroupedCausalAttentionWithPadding() {
        int b = 2;
        int t = 4;
        int nh = 4;
        int kv = 2;
        int hd = 3;
        int width = (nh + 2 * kv) * hd;
        int[] mask = {1, 1, 1, 1, 0, 1, 1, 1};
        float[] qkv = random(b * t * width, 1.5);
        float[] r = random(b * t * nh * hd, 1);
        float[] y = new float[b * t * nh * hd];
        float[] att = new float[b * nh * t * t];
        Ops.attentionForward(y, att, qkv, mask, b, t, nh, kv, hd);
        float[] dqkv = new float[b * t * width];
        Ops.attentionBackward(dqkv, r, att, qkv, new float[b * kv * t * t], b, t, nh, kv, hd);
        double[] xd = toDouble(qkv);
        ToDoubleFunction<double[]> loss = ignored -> {
            double s = 0;
            for (int bb = 0; bb < b; bb++) {
                for (int h = 0; h < nh; h++) {
                    int g = h / (nh / kv);
                    for (int i = 0; i < t; i++) {
                        double[] p = new double[t];
                        double max = Double.NEGATIVE_INFINITY;
                        for (int j = 0; j <= i; j++) {
                            if (mask[bb * t + j] == 0) {
                                continue;
                            }
                            double d = 0;
                            for (int k = 0; k < hd; k++) {
                                d += xd[(bb * t + i) * width + h * hd + k] * xd[(bb * t + j) * width + (nh + g) * hd + k];
                            }
                            p[j] = d / Math.sqrt(hd);
                            max = Math.max(max, p[j]);
                        }
                        if (max == Double.NEGATIVE_INFINITY) {
                            continue;
                        }
                        double sum = 0;
                        for (int j = 0; j <= i; j++) {
                            p[j] = mask[bb * t + j] == 0 ? 0 : Math.exp(p[j] - max);
                            sum += p[j];
                        }
                        for (int k = 0; k < hd; k++) {
                            double out = 0;
                            for (int j = 0; j <= i; j++) {
                                out += p[j] / sum * xd[(bb * t + j) * width + (nh + kv + g) * hd + k];
                            }
                            s += r[(bb * t + i) * nh * hd + h * hd + k] * out;
                        }
                    }
                }
            }
            return s;
        };
        check("dqkv", dqkv, xd, loss);
    }

    static double[][] rows(double[] a, int n, int c) {
        double[][] out = new double[n][c];
        for (int i = 0; i < n; i++) {
            System.arraycopy(a, i * c, out[i], 0, c);
        }
        return out;
    }

    static double[] flatten(double[][] a) {
        double[] out = new double[a.length * a[0].length];
        for (int i = 0; i < a.length; i++) {
            System.arraycopy(a[i], 0, out, i * a[0].length, a[0].length);
        }
        return out;
    }
}
