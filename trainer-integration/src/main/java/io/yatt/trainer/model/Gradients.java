package io.yatt.trainer.model;

import io.yatt.collectives.Communicator;
import io.yatt.collectives.ReduceOp;
import java.util.List;

/**
 * Gradient collectives of a rank's parameters: data-parallel averaging and the global L2 norm with clipping across
 * tensor-parallel ranks. Stateless; each call is confined to the calling rank's thread and every rank of the group
 * must make it.
 */
public final class Gradients {

    private Gradients() {
    }

    /**
     * Averages every gradient over the data-parallel group (all-reduce sum, then divide by its size); a group of one
     * or {@code null} leaves them as they are.
     */
    public static void allReduceMean(List<Parameter> parameters, Communicator dp) {
        if (dp == null || dp.size() == 1) {
            return;
        }
        float scale = 1f / dp.size();
        try (HostGroup group = HostGroup.of(dp)) {
            for (Parameter p : parameters) {
                float[] g = p.grad();
                group.allReduce(g, 0, g.length, ReduceOp.SUM);
                for (int i = 0; i < g.length; i++) {
                    g[i] *= scale;
                }
            }
        }
    }

    /**
     * The L2 norm of the whole model's gradient: squares of sharded parameters summed over the tensor-parallel group,
     * replicated ones counted once (also KV heads replicated over TP ranks, {@link Parameter#replicas()}). Call it after {@link #allReduceMean} so that data-parallel ranks agree.
     */
    public static double globalNorm(List<Parameter> parameters, Communicator tp) {
        double sharded = 0;
        double replicated = 0;
        for (Parameter p : parameters) {
            double s = 0;
            double rep = 0;
            float[] grad = p.grad();
            for (int i = 0; i < grad.length; i++) {
                if (i < p.replicatedFrom()) {
                    s += (double) grad[i] * grad[i];
                } else {
                    rep += (double) grad[i] * grad[i];
                }
            }
            // elements held alike by several TP ranks (replicated KV heads) count once over the group
            s += rep / p.replicas();
            if (p.sharded()) {
                sharded += s;
            } else {
                replicated += s;
            }
        }
        try (HostGroup group = HostGroup.of(tp)) {
            sharded = group.allReduceSum(sharded);
        }
        return Math.sqrt(sharded + replicated);
    }

    /**
     * Scales every gradient by {@code maxNorm / (norm + 1e-6)} when the global norm passes {@code maxNorm}
     * ({@code torch.nn.utils.clip_grad_norm_}) and returns the norm before clipping.
     *
     * @throws IllegalArgumentException if maxNorm is not positive
     */
    public static double clipGlobalNorm(List<Parameter> parameters, double maxNorm, Communicator tp) {
        if (!(maxNorm > 0)) {
            throw new IllegalArgumentException("max norm must be positive: maxNorm=" + maxNorm);
        }
        double norm = globalNorm(parameters, tp);
        double coef = maxNorm / (norm + 1e-6);
        if (coef < 1) {
            float f = (float) coef;
            for (Parameter p : parameters) {
                float[] g = p.grad();
                for (int i = 0; i < g.length; i++) {
                    g[i] *= f;
                }
            }
        }
        return norm;
    }
}
