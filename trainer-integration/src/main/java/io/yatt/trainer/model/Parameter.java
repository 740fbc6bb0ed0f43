package io.yatt.trainer.model;

/**
 * One named parameter of a rank: its values and its gradient, both {@code float[]} of the rank's shard (row-major,
 * {@code [out, in]}), and whether it is split over tensor-parallel ranks (otherwise every rank holds the same whole
 * copy). The arrays are the live storage, not copies. Confined to its rank's thread.
 */
public final class Parameter {
    private final String name;
    private final float[] data;
    private final float[] grad;
    private final boolean sharded;
    private final int replicatedFrom;
    private final int replicas;

    Parameter(String name, float[] data, boolean sharded) {
        this(name, data, sharded, data.length, 1);
    }

    /** A sharded parameter whose elements from {@code replicatedFrom} on are held alike by {@code replicas} ranks. */
    Parameter(String name, float[] data, boolean sharded, int replicatedFrom, int replicas) {
        this.name = name;
        this.data = data;
        this.grad = new float[data.length];
        this.sharded = sharded;
        this.replicatedFrom = replicatedFrom;
        this.replicas = replicas;
    }

    /** The hybrid engine's name ({@code layers.0.self_attn.qkv_proj.weight}) or {@code score.weight}. */
    public String name() {
        return name;
    }

    /** The values (live). */
    public float[] data() {
        return data;
    }

    /** The accumulated gradient (live), zeroed by {@link LlamaModel#zeroGrad()}. */
    public float[] grad() {
        return grad;
    }

    /** Whether tensor-parallel ranks hold different slices (true) or the same whole tensor (false). */
    public boolean sharded() {
        return sharded;
    }

    /**
     * The first element that {@link #replicas()} tensor-parallel ranks hold alike (a fused QKV's k and v rows when
     * the TP degree exceeds the KV heads); {@link #numel()} when none.
     */
    public int replicatedFrom() {
        return replicatedFrom;
    }

    /** How many tensor-parallel ranks hold the elements from {@link #replicatedFrom()} on (1 when none). */
    public int replicas() {
        return replicas;
    }

    /** Elements on this rank. */
    public int numel() {
        return data.length;
    }

    @Override
    public String toString() {
        return "Parameter{name=" + name + ", numel=" + data.length + ", sharded=" + sharded + "}";
    }
}
