package io.yatt.trainer.loop;

import io.yatt.controller.ControllerMesh;
import io.yatt.controller.ParallelControllers;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * How the C parallel controllers of one run share a step's per-sample quantities: every controller contributes the
 * entries it computed and gets the whole array back, through {@link ControllerMesh#reduce} (each entry a SUM partial
 * of one value, which the mesh carries exactly), so batch statistics are computed on the same arrays as with one
 * controller and every controller issues the same calls. With one controller it is the identity. Not thread-safe:
 * one per controller thread.
 */
final class Exchange {
    /** Entries per mesh round, far below the control plane's 128 KiB frame. */
    static final int ENTRIES_PER_ROUND = 512;

    private final ControllerMesh mesh;
    private final int index;
    private final int count;
    private long round;

    private Exchange(ControllerMesh mesh, int index, int count) {
        this.mesh = mesh;
        this.index = index;
        this.count = count;
    }

    /** The exchange of a single controller. */
    static Exchange single() {
        return new Exchange(null, 0, 1);
    }

    /** The exchange of controller {@code mesh.index()} of {@code mesh.count()}. */
    static Exchange over(ControllerMesh mesh) {
        return new Exchange(mesh, mesh.index(), mesh.count());
    }

    int index() {
        return index;
    }

    int count() {
        return count;
    }

    /**
     * The whole array of {@code total} entries, of which this controller holds {@code local} at {@code offset};
     * every controller calls it with the same {@code total} and its own disjoint part, the parts covering all.
     *
     * @throws IllegalStateException if an entry came from no controller
     */
    double[] gather(double[] local, int offset, int total) {
        if (mesh == null) {
            if (offset != 0 || local.length != total) {
                throw new IllegalArgumentException("a single controller holds the whole array: offset=" + offset
                        + ", local=" + local.length + ", total=" + total);
            }
            return local.clone();
        }
        double[] out = new double[total];
        for (int start = 0; start < total || start == 0; start += ENTRIES_PER_ROUND) {
            int end = Math.min(total, start + ENTRIES_PER_ROUND);
            List<ParallelControllers.Metric> parts = new ArrayList<>();
            for (int g = Math.max(start, offset); g < Math.min(end, offset + local.length); g++) {
                parts.add(ParallelControllers.Metric.of(Integer.toString(g), ParallelControllers.MetricOp.SUM,
                        local[g - offset]));
            }
            Map<String, Double> got = mesh.reduce(round++, parts);
            for (int g = start; g < end; g++) {
                Double v = got.get(Integer.toString(g));
                if (v == null) {
                    throw new IllegalStateException("no controller sent an entry: entry=" + g + ", total=" + total
                            + ", controller=" + index);
                }
                out[g] = v;
            }
            if (total == 0) {
                break;
            }
        }
        return out;
    }

    float[] gather(float[] local, int offset, int total) {
        double[] d = new double[local.length];
        for (int i = 0; i < d.length; i++) {
            d[i] = local[i];
        }
        double[] all = gather(d, offset, total);
        float[] out = new float[total];
        for (int i = 0; i < total; i++) {
            out[i] = (float) all[i];
        }
        return out;
    }

    int[] gather(int[] local, int offset, int total) {
        double[] d = new double[local.length];
        for (int i = 0; i < d.length; i++) {
            d[i] = local[i];
        }
        double[] all = gather(d, offset, total);
        int[] out = new int[total];
        for (int i = 0; i < total; i++) {
            out[i] = (int) all[i];
        }
        return out;
    }

    /** Controller 0's {@code values} on every controller (the others' arguments are ignored). */
    double[] fromFirst(double[] values) {
        return gather(index == 0 ? values : new double[0], index == 0 ? 0 : values.length, values.length);
    }

    /** Waits until every controller got here. */
    void barrier() {
        if (mesh != null) {
            mesh.barrier(round++);
        }
    }
}
