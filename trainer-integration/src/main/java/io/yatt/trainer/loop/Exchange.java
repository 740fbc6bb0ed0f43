package io.yatt.trainer.loop;

import io.yatt.controller.ControllerMesh;
import io.yatt.controller.ParallelControllers;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * What the C parallel controllers of one run share besides the workers' own collectives: controller 0's values (the
 * stop request, the held-out reward) and barriers around checkpoints, through {@link ControllerMesh#reduce} (each
 * entry a SUM partial of one value, which the mesh carries exactly). With one controller it is the identity. Not
 * thread-safe: one per controller thread.
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
     * Values travel as their raw bits (two 32-bit halves, each exact in a double), so signed zeros and NaN payloads
     * come back unchanged.
     *
     * @throws IllegalStateException if an entry came from no controller
     */
    double[] gather(double[] local, int offset, int total) {
        if (mesh == null) {
            requireWhole(local.length, offset, total);
            return local.clone();
        }
        double[] halves = new double[2 * local.length];
        for (int i = 0; i < local.length; i++) {
            long bits = Double.doubleToRawLongBits(local[i]);
            halves[2 * i] = (int) (bits >>> 32);
            halves[2 * i + 1] = (int) bits;
        }
        double[] all = gatherExact(halves, 2 * offset, 2 * total);
        double[] out = new double[total];
        for (int i = 0; i < total; i++) {
            long bits = ((long) (int) all[2 * i] << 32) | ((int) all[2 * i + 1] & 0xFFFFFFFFL);
            out[i] = Double.longBitsToDouble(bits);
        }
        return out;
    }

    private static void requireWhole(int local, int offset, int total) {
        if (offset != 0 || local != total) {
            throw new IllegalArgumentException("a single controller holds the whole array: offset=" + offset
                    + ", local=" + local + ", total=" + total);
        }
    }

    /** The all-gather of integer-valued doubles (exact as one-value SUM partials), in rounds of bounded size. */
    private double[] gatherExact(double[] local, int offset, int total) {
        double[] out = new double[total];
        int start = 0;
        do {
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
            start = end;
        } while (start < total);
        return out;
    }

    /** Controller 0's {@code values} on every controller (the others' arguments are ignored). */
    double[] fromFirst(double[] values) {
        return gather(index == 0 ? values : new double[0], index == 0 ? 0 : values.length, values.length);
    }

    /**
     * Controller 0's {@code value} on every controller (the others' arguments are ignored): a run-level choice that
     * controller 0 makes for all, such as a folder path, carried as its UTF-8 bytes.
     */
    String fromFirst(String value) {
        byte[] mine = value.getBytes(java.nio.charset.StandardCharsets.UTF_8);
        int length = (int) fromFirst(new double[] {mine.length})[0];
        double[] bytes = new double[length];
        for (int i = 0; i < length && index == 0; i++) {
            bytes[i] = mine[i];
        }
        double[] got = fromFirst(bytes);
        byte[] out = new byte[length];
        for (int i = 0; i < length; i++) {
            out[i] = (byte) got[i];
        }
        return new String(out, java.nio.charset.StandardCharsets.UTF_8);
    }

    /** Waits until every controller got here. */
    void barrier() {
        if (mesh != null) {
            mesh.barrier(round++);
        }
    }
}
