package io.yatt.hybrid;

import io.yatt.tensor.Shape;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Where every byte of one gather buffer comes from (segments of the members' flat training storage) and where the
 * generation weights must end up (from byte 0, model order). Package-private; computed by the planner, used by the
 * executor. Immutable once built.
 */
final class GatherLayout {

    /** A contiguous part of one rank's flat training storage for (stage, tp), placed in the buffer. */
    record Segment(int rank, int stage, int tp, long flatStart, long byteLength, long bufferOffset) {
    }

    /** A generation weight: its generation-local name, spec, shape and byte offset in the buffer. */
    record Target(String name, ParameterSpec param, Shape shape, long byteOffset) {
    }

    final GroupKind group;
    final List<Integer> ranks;
    final List<Segment> segments;
    final long bufferBytes;
    final int ownSegment;
    final List<Target> targets;
    final long targetBytes;
    final boolean replicated;
    private final Map<String, Long> flatOffsets;
    private final int t;
    private final int tg;
    private final int genTp;
    private final int p;
    private final int layers;
    private volatile long[] moves;

    GatherLayout(GroupKind group, List<Integer> ranks, List<Segment> segments, int ownSegment, List<Target> targets,
                 boolean replicated, Map<String, Long> flatOffsets, int t, int tg, int genTp, int p, int layers) {
        this.group = group;
        this.ranks = List.copyOf(ranks);
        this.segments = List.copyOf(segments);
        long bytes = 0;
        for (Segment s : segments) {
            bytes = Math.max(bytes, s.bufferOffset() + s.byteLength());
        }
        this.bufferBytes = bytes;
        this.ownSegment = ownSegment;
        this.targets = List.copyOf(targets);
        long tb = 0;
        for (Target target : targets) {
            tb += target.shape().numel() * target.param().dtype().byteSize();
        }
        this.targetBytes = tb;
        this.replicated = replicated;
        this.flatOffsets = Map.copyOf(flatOffsets);
        this.t = t;
        this.tg = tg;
        this.genTp = genTp;
        this.p = p;
        this.layers = layers;
    }

    long bytesReceived() {
        return bufferBytes - segments.get(ownSegment).byteLength();
    }

    /** The byte offsets of each parameter inside the flat storage of its stage (sharded or replicated ones). */
    static Map<String, Long> flatOffsets(ModelSpec spec, int p, int t, boolean replicated) {
        Map<String, Long> offsets = new LinkedHashMap<>();
        for (int stage = 0; stage < p; stage++) {
            long offset = 0;
            for (ParameterSpec param : spec.stageParameters(stage, p)) {
                if (param.kind().isSharded() == !replicated) {
                    offsets.put(param.name(), offset);
                    offset += param.shardByteSize(t);
                }
            }
            offsets.put("#stage" + stage, offset);
        }
        return offsets;
    }

    static long stageBytes(Map<String, Long> flatOffsets, int stage) {
        return flatOffsets.get("#stage" + stage);
    }

    /**
     * The moves {@code (source, target, byteLength)} (triples, in buffer byte offsets) that put every generation
     * weight's bytes in place; contiguous moves are merged.
     */
    long[] moves() {
        long[] m = moves;
        if (m == null) {
            m = computeMoves();
            moves = m;
        }
        return m;
    }

    private long[] computeMoves() {
        MoveList out = new MoveList();
        for (Target target : targets) {
            ParameterSpec param = target.param();
            int es = param.dtype().byteSize();
            int stage = param.stage(p, layers);
            long base = flatOffsets.get(param.name());
            for (ShardMath.ElementRun run : ShardMath.runs(param, t, tg, genTp)) {
                int sourceTp = replicated ? -1 : run.source();
                for (long i = 0; i < run.count(); i++) {
                    long flat = base + (run.sourceOffset() + i * run.sourceStride()) * es;
                    long dst = target.byteOffset() + (run.targetOffset() + i * run.targetStride()) * es;
                    emit(out, stage, sourceTp, flat, dst, run.length() * es);
                }
            }
        }
        return out.toArray();
    }

    private void emit(MoveList out, int stage, int tp, long flat, long dst, long length) {
        long remaining = length;
        while (remaining > 0) {
            Segment seg = find(stage, tp, flat);
            long take = Math.min(remaining, seg.flatStart() + seg.byteLength() - flat);
            out.add(seg.bufferOffset() + (flat - seg.flatStart()), dst, take);
            flat += take;
            dst += take;
            remaining -= take;
        }
    }

    private Segment find(int stage, int tp, long flat) {
        for (Segment seg : segments) {
            if (seg.stage() == stage && (tp < 0 || seg.tp() == tp) && flat >= seg.flatStart()
                    && flat < seg.flatStart() + seg.byteLength()) {
                return seg;
            }
        }
        throw new IllegalStateException("no segment holds the bytes: stage=" + stage + ", tp=" + tp + ", flat=" + flat);
    }

    /** A growable list of move triples that merges a move into the previous one when both sides continue it. */
    static final class MoveList {
        private long[] data = new long[96];
        private int size;

        void add(long src, long dst, long length) {
            if (size > 0 && data[size - 3] + data[size - 1] == src && data[size - 2] + data[size - 1] == dst) {
                data[size - 1] += length;
                return;
            }
            if (size + 3 > data.length) {
                data = java.util.Arrays.copyOf(data, data.length * 2);
            }
            data[size++] = src;
            data[size++] = dst;
            data[size++] = length;
        }

        long[] toArray() {
            return java.util.Arrays.copyOf(data, size);
        }
    }
}
