package io.yatt.hybrid;

import io.yatt.tensor.DType;
import io.yatt.tensor.Shape;
import java.util.Objects;

/**
 * One named parameter of a model: its kind, full (unsharded) shape, dtype and pipeline position. Decoder-layer
 * parameters are named {@code layers.<layer>.<rest>} with their global layer index; {@link #FIRST_STAGE} parameters
 * (the embedding) live on the first pipeline stage and {@link #LAST_STAGE} ones (final norm, lm_head) on the last.
 * Immutable and thread-safe.
 *
 * @param name global name, e.g. {@code layers.3.mlp.down_proj.weight}
 * @param kind how it is split over TP ranks
 * @param shape full shape (1-D or 2-D)
 * @param dtype element type
 * @param layer global decoder layer index, or {@link #FIRST_STAGE} / {@link #LAST_STAGE}
 */
public record ParameterSpec(String name, ParameterKind kind, Shape shape, DType dtype, int layer) {

    /** Pipeline position of parameters that live on the first stage (the embedding). */
    public static final int FIRST_STAGE = -1;
    /** Pipeline position of parameters that live on the last stage (final norm, lm_head). */
    public static final int LAST_STAGE = -2;

    private static final String LAYER_PREFIX = "layers.";

    /**
     * @throws IllegalArgumentException if the name does not match the layer, the shape is not 1-D or 2-D, or the
     *         kind does not fit the shape
     */
    public ParameterSpec {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(kind, "kind");
        Objects.requireNonNull(shape, "shape");
        Objects.requireNonNull(dtype, "dtype");
        if (shape.rank() < 1 || shape.rank() > 2) {
            throw new IllegalArgumentException("parameter must be 1-D or 2-D: name=" + name + ", shape=" + shape);
        }
        if (layer >= 0) {
            String prefix = LAYER_PREFIX + layer + ".";
            if (!name.startsWith(prefix) || name.length() == prefix.length()) {
                throw new IllegalArgumentException("layer parameter name must start with " + prefix + ": name=" + name);
            }
        } else if (layer != FIRST_STAGE && layer != LAST_STAGE) {
            throw new IllegalArgumentException("invalid layer: name=" + name + ", layer=" + layer
                    + ", expected >= 0, FIRST_STAGE(-1) or LAST_STAGE(-2)");
        } else if (name.startsWith(LAYER_PREFIX)) {
            throw new IllegalArgumentException("non-layer parameter must not be named layers.*: name=" + name);
        }
        if (kind.shardDim() >= shape.rank()) {
            throw new IllegalArgumentException("shard dim out of range: name=" + name + ", kind=" + kind
                    + ", shape=" + shape);
        }
        if (kind.isSharded()) {
            kind.components(shape.dim(kind.shardDim()));
        }
    }

    /** Bytes of the full parameter. */
    public long byteSize() {
        return shape.numel() * dtype.byteSize();
    }

    /** Elements in one unit of the shard dimension: a row's length for dim 0 of a 2-D tensor, else 1. */
    public long innerSize() {
        return shape.rank() == 2 && kind.shardDim() == 0 ? shape.dim(1) : 1;
    }

    /** Rows outside the shard dimension: the row count for dim 1, else 1. */
    public long outerSize() {
        return kind.shardDim() == 1 ? shape.dim(0) : 1;
    }

    /**
     * The shape of one TP shard of {@code n}: along the shard dimension, the sum of its slices
     * ({@link ShardMath#slices}); a fused QKV at {@code n > kvHeads} holds one whole KV head.
     *
     * @throws IllegalArgumentException if {@code n} does not divide a component, or {@code n} and the KV heads do
     *         not divide one another
     */
    public Shape shardShape(int n) {
        if (!kind.isSharded()) {
            return shape;
        }
        int dim = kind.shardDim();
        long units = 0;
        for (long[] slice : ShardMath.slices(this, n, 0)) {
            units += slice[1];
        }
        long[] dims = shape.dims();
        dims[dim] = units;
        return Shape.of(dims);
    }

    /**
     * Bytes of one TP shard of {@code n} (the full size when replicated).
     *
     * @throws IllegalArgumentException as {@link #shardShape}
     */
    public long shardByteSize(int n) {
        return kind.isSharded() ? shardShape(n).numel() * dtype.byteSize() : byteSize();
    }

    /**
     * The pipeline stage that holds this parameter when {@code layers} decoder layers are split over {@code p} stages.
     *
     * @throws IllegalArgumentException if {@code p} does not divide {@code layers}
     */
    public int stage(int p, int layers) {
        if (layer == FIRST_STAGE) {
            return 0;
        }
        if (layer == LAST_STAGE) {
            return p - 1;
        }
        return layer / layersPerStage(p, layers);
    }

    /**
     * The stage-local name under {@code p} stages: the layer index becomes {@code layer - stage*layersPerStage}.
     *
     * @throws IllegalArgumentException if {@code p} does not divide {@code layers}
     */
    public String localName(int p, int layers) {
        if (layer < 0) {
            return name;
        }
        int perStage = layersPerStage(p, layers);
        return LAYER_PREFIX + (layer % perStage) + name.substring(LAYER_PREFIX.length() + Integer.toString(layer).length());
    }

    /**
     * The global name of a stage-local name: {@code global = local + stage * layersPerStage}.
     *
     * @throws IllegalArgumentException if a layer name carries no valid index
     */
    public static String globalName(String localName, int stage, int layersPerStage) {
        if (!localName.startsWith(LAYER_PREFIX)) {
            return localName;
        }
        int dot = localName.indexOf('.', LAYER_PREFIX.length());
        if (dot < 0) {
            throw new IllegalArgumentException("layer name without index: name=" + localName);
        }
        int local;
        try {
            local = Integer.parseInt(localName.substring(LAYER_PREFIX.length(), dot));
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("layer name without index: name=" + localName, e);
        }
        return LAYER_PREFIX + (local + stage * layersPerStage) + localName.substring(dot);
    }

    static int layersPerStage(int p, int layers) {
        if (p <= 0 || layers % p != 0) {
            throw new IllegalArgumentException("pipeline stages must divide layers: layers=" + layers + ", p=" + p);
        }
        return layers / p;
    }
}
