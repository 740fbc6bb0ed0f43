package io.yatt.hybrid;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The planner's builder of one gather group's direct placement: for every member, the pieces it contributes, each
 * with its place in the member's training storage (source) and its final place in the receivers' buffer (target), in
 * elements. Every member's buffer has the same layout, so a piece's target is the same on every receiver and each
 * received byte is copied once, straight into its generation position: a column-parallel, vocab or bias slot is a
 * contiguous block, a row-parallel slot a strided column block ({@code count} rows of {@code length} elements), a
 * fused QKV or gate/up slot one contiguous block per component. Package-private; immutable once built.
 */
final class DirectPlacement {

    /**
     * One of a member's training parameters and its pieces, for building that member's training views.
     *
     * @param param the parameter
     * @param localName its training-stage-local name
     * @param flatBase where its shard starts in the training flat storage (elements)
     * @param pieces its pieces, in target order
     */
    record OwnParam(ParameterSpec param, String localName, long flatBase, List<ReshardStep.Piece> pieces) {
        OwnParam {
            pieces = List.copyOf(pieces);
        }
    }

    final List<Integer> ranks;
    final List<List<ReshardStep.Piece>> pieces;
    final List<List<OwnParam>> ownParams;
    final long bufferElements;

    private DirectPlacement(List<Integer> ranks, List<List<ReshardStep.Piece>> pieces, List<List<OwnParam>> ownParams,
                            long bufferElements) {
        this.ranks = List.copyOf(ranks);
        List<List<ReshardStep.Piece>> copy = new ArrayList<>();
        for (List<ReshardStep.Piece> list : pieces) {
            copy.add(List.copyOf(list));
        }
        this.pieces = List.copyOf(copy);
        List<List<OwnParam>> owns = new ArrayList<>();
        for (List<OwnParam> list : ownParams) {
            owns.add(List.copyOf(list));
        }
        this.ownParams = List.copyOf(owns);
        this.bufferElements = bufferElements;
    }

    /** The gather step as member {@code rank} of this group runs it. */
    ReshardStep.Gather gather(GroupKind group, int rank, boolean sendsFromTargets, boolean replicated) {
        return new ReshardStep.Gather(group, ranks, ranks.indexOf(rank), pieces, bufferElements, sendsFromTargets,
                replicated);
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

    /** Bytes of one stage's flat storage, from {@link #flatOffsets}. */
    static long stageBytes(Map<String, Long> flatOffsets, int stage) {
        return flatOffsets.get("#stage" + stage);
    }

    /**
     * The placement of the sharded parameters over {@code group} (the scheme's gather group): HybridFlow's buffer is
     * the members' common generation shard; the baselines' buffer is the whole model, every generation shard in
     * (generation stage, generation TP) order, with DS-Chat's members contributing their data-parallel chunk.
     */
    static DirectPlacement sharded(HybridLayout layout, ModelSpec spec, ReshardScheme scheme, List<Integer> group) {
        int p = layout.train().p();
        int t = layout.train().t();
        int d = layout.train().d();
        int pg = layout.gen().pg();
        int tg = layout.gen().tg();
        int kt = layout.kt();
        int es = spec.dtype().byteSize();
        Map<String, Long> flat = flatOffsets(spec, p, t, false);
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
        boolean resident = scheme == ReshardScheme.HYBRIDFLOW;
        RankCoordinates first = layout.coordinates(group.getFirst());
        List<List<ReshardStep.Piece>> all = new ArrayList<>();
        List<List<OwnParam>> owns = new ArrayList<>();
        for (int member : group) {
            RankCoordinates c = layout.coordinates(member);
            int stage = c.pp();
            int tau = c.tp();
            int gtp = tau / kt;
            long stageElements = stageBytes(flat, stage) / es;
            long chunkStart = scheme == ReshardScheme.DS_CHAT ? stageElements * c.dp() / d : 0;
            long chunkEnd = scheme == ReshardScheme.DS_CHAT ? stageElements * (c.dp() + 1) / d : stageElements;
            List<ReshardStep.Piece> list = new ArrayList<>();
            List<OwnParam> own = new ArrayList<>();
            for (ParameterSpec param : spec.stageParameters(stage, p)) {
                if (!param.kind().isSharded()) {
                    continue;
                }
                int sg = param.stage(pg, spec.layers());
                if (resident && (sg != first.genPp() || gtp != first.genTp())) {
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
                boolean replicatedKv = ShardMath.kvReplicas(param, t) > 1;
                for (ShardMath.ElementRun run : ShardMath.runs(param, t, tg, gtp)) {
                    if (run.source() != tau) {
                        continue;
                    }
                    if (resident && replicatedKv && layout.kp() == 1 && heldByAll(param, t, tg, gtp, kt, run)) {
                        continue; // a KV head every member already holds in place: nobody sends it
                    }
                    addClipped(list, param, srcBase, dstBase, run, chunkStart, chunkEnd);
                }
                List<ReshardStep.Piece> placed = list.subList(before, list.size());
                if (resident && replicatedKv) {
                    // the member's whole shard in place, including the replicated KV parts another member sends
                    placed = new ArrayList<>();
                    for (ShardMath.ElementRun run : ShardMath.placementRuns(param, t, tg, tau)) {
                        addClipped(placed, param, srcBase, dstBase, run, chunkStart, chunkEnd);
                    }
                }
                own.add(new OwnParam(param, param.localName(p, spec.layers()), srcBase, placed));
            }
            all.add(list);
            owns.add(own);
        }
        long wholeModel = 0;
        for (long stageElements : genStageElements) {
            wholeModel += tg * stageElements;
        }
        long buffer = resident ? genStageElements[first.genPp()] : wholeModel;
        return new DirectPlacement(group, all, owns, buffer);
    }

    /**
     * The placement of the replicated parameters (norms, row-parallel biases) over a micro-PP group: each member
     * contributes its stage's, whole, at their generation offsets; the buffer is the generation stage's replicated
     * parameters.
     */
    static DirectPlacement replicated(HybridLayout layout, ModelSpec spec, List<Integer> group) {
        int p = layout.train().p();
        int t = layout.train().t();
        int pg = layout.gen().pg();
        int es = spec.dtype().byteSize();
        Map<String, Long> flat = flatOffsets(spec, p, t, true);
        RankCoordinates first = layout.coordinates(group.getFirst());
        Map<String, Long> gen = new HashMap<>();
        long offset = 0;
        for (ParameterSpec param : spec.stageParameters(first.genPp(), pg)) {
            if (!param.kind().isSharded()) {
                gen.put(param.name(), offset);
                offset += param.byteSize() / es;
            }
        }
        List<List<ReshardStep.Piece>> all = new ArrayList<>();
        List<List<OwnParam>> owns = new ArrayList<>();
        for (int member : group) {
            List<ReshardStep.Piece> list = new ArrayList<>();
            List<OwnParam> own = new ArrayList<>();
            for (ParameterSpec param : spec.stageParameters(layout.coordinates(member).pp(), p)) {
                if (!param.kind().isSharded()) {
                    long n = param.shape().numel();
                    ReshardStep.Piece piece = new ReshardStep.Piece(flat.get(param.name()) / es, 0, 0,
                            gen.get(param.name()), 0, 0, n, 1);
                    list.add(piece);
                    own.add(new OwnParam(param, param.localName(p, spec.layers()), piece.srcBase(), List.of(piece)));
                }
            }
            all.add(list);
            owns.add(own);
        }
        return new DirectPlacement(group, all, owns, offset);
    }

    /** Whether every training shard covering generation shard {@code gtp} holds the run's target range in place. */
    private static boolean heldByAll(ParameterSpec param, int t, int tg, int gtp, int kt, ShardMath.ElementRun run) {
        if (run.count() != 1) {
            return false;
        }
        for (int j = 0; j < kt; j++) {
            boolean held = false;
            for (ShardMath.ElementRun own : ShardMath.placementRuns(param, t, tg, gtp * kt + j)) {
                held |= own.count() == 1 && own.targetOffset() <= run.targetOffset()
                        && run.targetOffset() + run.length() <= own.targetOffset() + own.length();
            }
            if (!held) {
                return false;
            }
        }
        return true;
    }

    /** Adds the part of a run whose source lies in the flat range {@code [chunkStart, chunkEnd)} (elements). */
    private static void addClipped(List<ReshardStep.Piece> out, ParameterSpec param, long srcBase, long dstBase,
                                   ShardMath.ElementRun run, long chunkStart, long chunkEnd) {
        if (run.count() == 1) {
            long from = srcBase + run.sourceOffset();
            long lo = Math.max(from, chunkStart);
            long hi = Math.min(from + run.length(), chunkEnd);
            if (hi > lo) {
                out.add(new ReshardStep.Piece(lo, 0, 0, dstBase + run.targetOffset() + (lo - from), 0, 0, hi - lo, 1));
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
            out.add(new ReshardStep.Piece(srcBase + firstFull * len, 0, len, dstBase + firstFull * run.targetStride(),
                    run.targetOffset(), run.targetStride(), len, lastFull - firstFull));
        }
        if (hi > srcBase + lastFull * len) {
            out.add(rowPart(srcBase, dstBase, run, lastFull, srcBase + lastFull * len, hi));
        }
    }

    private static ReshardStep.Piece rowPart(long srcBase, long dstBase, ShardMath.ElementRun run, long row, long lo, long hi) {
        long rowStart = srcBase + row * run.length();
        long dst = dstBase + row * run.targetStride() + run.targetOffset() + (lo - rowStart);
        return new ReshardStep.Piece(lo, 0, 0, dst, 0, 0, hi - lo, 1);
    }
}
