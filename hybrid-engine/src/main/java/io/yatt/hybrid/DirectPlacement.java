package io.yatt.hybrid;

import io.yatt.tensor.Shape;
import io.yatt.tensor.Tensor;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Direct placement of one gather: for every member of the gather group, the pieces it contributes, each with its
 * place in the member's storage (source) and its final place in the receiver's buffer (target), in elements. Every
 * member's buffer has the same layout, so a piece's target is the same on every receiver and each received byte is
 * copied once, straight into its generation position: a column-parallel, vocab or bias slot is a contiguous block, a
 * row-parallel slot a strided column block ({@code count} rows of {@code length} elements), a fused QKV or gate/up
 * slot one contiguous block per component. Package-private; immutable once built.
 */
final class DirectPlacement {

    /**
     * {@code count} runs of {@code length} elements. A view of one side: for {@code count == 1} the contiguous
     * elements {@code [base + col, base + col + length)}; otherwise rows {@code [base + i*stride + col, +length)}.
     */
    record Piece(long srcBase, long srcCol, long srcStride, long dstBase, long dstCol, long dstStride, long length,
                 long count) {
        long numel() {
            return length * count;
        }
    }

    /**
     * One of this rank's training parameters and its pieces, for building the training views.
     *
     * @param param the parameter
     * @param localName its training-stage-local name
     * @param flatBase where its shard starts in the training flat storage (elements)
     * @param pieces its pieces, in target order
     */
    record OwnParam(ParameterSpec param, String localName, long flatBase, List<Piece> pieces) {
    }

    final List<Integer> ranks;
    final int own;
    final List<List<Piece>> pieces;
    final long bufferElements;
    final List<OwnParam> ownParams;

    private DirectPlacement(List<Integer> ranks, int own, List<List<Piece>> pieces, long bufferElements,
                            List<OwnParam> ownParams) {
        this.ranks = List.copyOf(ranks);
        this.own = own;
        this.ownParams = List.copyOf(ownParams);
        List<List<Piece>> copy = new ArrayList<>();
        for (List<Piece> list : pieces) {
            copy.add(List.copyOf(list));
        }
        this.pieces = List.copyOf(copy);
        this.bufferElements = bufferElements;
    }

    /** Elements this rank receives from the other members. */
    long receivedElements() {
        long n = 0;
        for (int i = 0; i < pieces.size(); i++) {
            if (i != own) {
                for (Piece piece : pieces.get(i)) {
                    n += piece.numel();
                }
            }
        }
        return n;
    }

    /**
     * The placement of the sharded parameters for {@code rank}: HybridFlow's buffer is the rank's generation shard
     * (the micro-DP members share it); the baselines' buffer is the whole model, every generation shard in
     * (generation stage, generation TP) order, with DS-Chat's members contributing their data-parallel chunk.
     */
    static DirectPlacement sharded(ReshardPlan plan, int rank) {
        HybridLayout layout = plan.layout();
        ModelSpec spec = plan.spec();
        int p = layout.train().p();
        int t = layout.train().t();
        int d = layout.train().d();
        int pg = layout.gen().pg();
        int tg = layout.gen().tg();
        int kt = layout.kt();
        int es = spec.dtype().byteSize();
        Map<String, Long> flat = GatherLayout.flatOffsets(spec, p, t, false);
        List<Map<String, Long>> genOffsets = new ArrayList<>();
        long[] genStageElements = new long[pg];
        for (int sg = 0; sg < pg; sg++) {
            Map<String, Long> offsets = new HashMap<>();
            long offset = 0;
            for (ParameterSpec param : spec.stageParameters(sg, pg)) {
                if (param.kind().isSharded()) {
                    offsets.put(param.name(), offset);
                    offset += param.shardByteSize(tg) / es;
                }
            }
            genOffsets.add(offsets);
            genStageElements[sg] = offset;
        }
        boolean resident = plan.scheme() == ReshardScheme.HYBRIDFLOW;
        RankCoordinates me = layout.coordinates(rank);
        List<Integer> group = layout.group(plan.scheme().gatherGroup(), rank);
        List<List<Piece>> all = new ArrayList<>();
        List<OwnParam> ownParams = new ArrayList<>();
        for (int member : group) {
            RankCoordinates c = layout.coordinates(member);
            int stage = c.pp();
            int tau = c.tp();
            int gtp = tau / kt;
            long stageElements = GatherLayout.stageBytes(flat, stage) / es;
            long chunkStart = plan.scheme() == ReshardScheme.DS_CHAT ? stageElements * c.dp() / d : 0;
            long chunkEnd = plan.scheme() == ReshardScheme.DS_CHAT ? stageElements * (c.dp() + 1) / d : stageElements;
            List<Piece> list = new ArrayList<>();
            for (ParameterSpec param : spec.stageParameters(stage, p)) {
                if (!param.kind().isSharded()) {
                    continue;
                }
                int sg = param.stage(pg, spec.layers());
                if (resident && (sg != me.genPp() || gtp != me.genTp())) {
                    throw new IllegalStateException("micro-DP member outside the generation shard: rank=" + member
                            + ", genPp=" + sg + ", genTp=" + gtp);
                }
                long block = 0;
                if (!resident) {
                    for (int s = 0; s < sg; s++) {
                        block += tg * genStageElements[s];
                    }
                    block += gtp * genStageElements[sg];
                }
                long dstBase = block + genOffsets.get(sg).get(param.name());
                long srcBase = flat.get(param.name()) / es;
                int before = list.size();
                for (ShardMath.ElementRun run : ShardMath.runs(param, t, tg, gtp)) {
                    if (run.source() != tau) {
                        continue;
                    }
                    addClipped(list, param, srcBase, dstBase, run, chunkStart, chunkEnd);
                }
                if (member == rank) {
                    ownParams.add(new OwnParam(param, param.localName(p, spec.layers()), srcBase,
                            List.copyOf(list.subList(before, list.size()))));
                }
            }
            all.add(list);
        }
        long buffer = resident ? genStageElements[me.genPp()] : spec.shardedByteSize() / es;
        return new DirectPlacement(group, group.indexOf(rank), all, buffer, ownParams);
    }

    /**
     * The placement of the replicated parameters (norms, row-parallel biases) over the micro-PP group: each member
     * contributes its stage's, whole, at their generation offsets; the buffer is the generation stage's replicated
     * parameters.
     */
    static DirectPlacement replicated(ReshardPlan plan, int rank) {
        HybridLayout layout = plan.layout();
        ModelSpec spec = plan.spec();
        int p = layout.train().p();
        int t = layout.train().t();
        int pg = layout.gen().pg();
        int es = spec.dtype().byteSize();
        Map<String, Long> flat = GatherLayout.flatOffsets(spec, p, t, true);
        RankCoordinates me = layout.coordinates(rank);
        Map<String, Long> gen = new HashMap<>();
        long offset = 0;
        for (ParameterSpec param : spec.stageParameters(me.genPp(), pg)) {
            if (!param.kind().isSharded()) {
                gen.put(param.name(), offset);
                offset += param.byteSize() / es;
            }
        }
        List<Integer> group = layout.group(GroupKind.MICRO_PP, rank);
        List<List<Piece>> all = new ArrayList<>();
        List<OwnParam> ownParams = new ArrayList<>();
        for (int member : group) {
            List<Piece> list = new ArrayList<>();
            for (ParameterSpec param : spec.stageParameters(layout.coordinates(member).pp(), p)) {
                if (!param.kind().isSharded()) {
                    long n = param.shape().numel();
                    Piece piece = new Piece(flat.get(param.name()) / es, 0, 0, gen.get(param.name()), 0, 0, n, 1);
                    list.add(piece);
                    if (member == rank) {
                        ownParams.add(new OwnParam(param, param.localName(p, spec.layers()), piece.srcBase(),
                                List.of(piece)));
                    }
                }
            }
            all.add(list);
        }
        return new DirectPlacement(group, group.indexOf(rank), all, offset, ownParams);
    }

    /** Adds the part of a run whose source lies in the flat range {@code [chunkStart, chunkEnd)} (elements). */
    private static void addClipped(List<Piece> out, ParameterSpec param, long srcBase, long dstBase,
                                   ShardMath.ElementRun run, long chunkStart, long chunkEnd) {
        if (run.count() == 1) {
            long from = srcBase + run.sourceOffset();
            long lo = Math.max(from, chunkStart);
            long hi = Math.min(from + run.length(), chunkEnd);
            if (hi > lo) {
                out.add(new Piece(lo, 0, 0, dstBase + run.targetOffset() + (lo - from), 0, 0, hi - lo, 1));
            }
            return;
        }
        if (run.sourceStride() != run.length() || run.sourceOffset() != 0) {
            throw new IllegalStateException("strided source runs are not supported: name=" + param.name());
        }
        // rows of a contiguous source, strided target: whole rows as one 2-D piece, partial rows as 1-D pieces
        long len = run.length();
        long lo = Math.max(srcBase, chunkStart);
        long hi = Math.min(srcBase + len * run.count(), chunkEnd);
        if (hi <= lo) {
            return;
        }
        long firstFull = (lo - srcBase + len - 1) / len;
        long lastFull = (hi - srcBase) / len;
        if (firstFull > lastFull) {
            long row = (lo - srcBase) / len;
            out.add(rowPart(srcBase, dstBase, run, row, lo, hi));
            return;
        }
        if (lo < srcBase + firstFull * len) {
            out.add(rowPart(srcBase, dstBase, run, firstFull - 1, lo, srcBase + firstFull * len));
        }
        if (lastFull > firstFull) {
            out.add(new Piece(srcBase + firstFull * len, 0, len, dstBase + firstFull * run.targetStride(),
                    run.targetOffset(), run.targetStride(), len, lastFull - firstFull));
        }
        if (hi > srcBase + lastFull * len) {
            out.add(rowPart(srcBase, dstBase, run, lastFull, srcBase + lastFull * len, hi));
        }
    }

    private static Piece rowPart(long srcBase, long dstBase, ShardMath.ElementRun run, long row, long lo, long hi) {
        long rowStart = srcBase + row * run.length();
        long dst = dstBase + row * run.targetStride() + run.targetOffset() + (lo - rowStart);
        return new Piece(lo, 0, 0, dst, 0, 0, hi - lo, 1);
    }

    /** The target view of a piece over {@code buffer} (a flat tensor). */
    static Tensor targetView(Tensor buffer, Piece piece) {
        return view(buffer, piece.dstBase(), piece.dstCol(), piece.dstStride(), piece.length(), piece.count());
    }

    /** The source view of a piece over {@code storage} (a flat tensor). */
    static Tensor sourceView(Tensor storage, Piece piece) {
        return view(storage, piece.srcBase(), piece.srcCol(), piece.srcStride(), piece.length(), piece.count());
    }

    private static Tensor view(Tensor flat, long base, long col, long stride, long length, long count) {
        if (count == 1) {
            return flat.narrow(0, base + col, length);
        }
        return flat.narrow(0, base, count * stride).view(Shape.of(count, stride)).narrow(1, col, length);
    }

    /** Target views of every member's pieces over {@code buffer}, per member. */
    List<List<Tensor>> targetViews(Tensor buffer) {
        List<List<Tensor>> views = new ArrayList<>(pieces.size());
        for (List<Piece> list : pieces) {
            List<Tensor> member = new ArrayList<>(list.size());
            for (Piece piece : list) {
                member.add(targetView(buffer, piece));
            }
            views.add(List.copyOf(member));
        }
        return List.copyOf(views);
    }

    /** Source views of this rank's own pieces over its storage. */
    List<Tensor> ownSourceViews(Tensor storage) {
        List<Tensor> views = new ArrayList<>();
        for (Piece piece : pieces.get(own)) {
            views.add(sourceView(storage, piece));
        }
        return List.copyOf(views);
    }
}
