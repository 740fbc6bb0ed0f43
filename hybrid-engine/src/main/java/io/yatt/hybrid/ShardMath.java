package io.yatt.hybrid;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * The pure shard and reshard algebra, on plain {@code long[]} element arrays (row-major, the parameter's full or
 * shard shape). {@link #shard} is the definition (slice every component, concatenate); {@link #pieces} is the
 * reshard algebra that the executor runs on tensors: it splits each source shard into its components, concatenates
 * per component and re-fuses, which for one-component kinds reduces to concatenating along the shard dimension.
 * Stateless and thread-safe.
 */
public final class ShardMath {

    private ShardMath() {
    }

    /**
     * A contiguous range along the shard dimension that moves from a source TP shard to the target TP shard, in
     * shard-local units of the shard dimension (rows for dim 0, columns for dim 1).
     *
     * @param source source TP index
     * @param sourceStart start inside the source shard
     * @param targetStart start inside the target shard
     * @param length units
     */
    public record ShardPiece(int source, long sourceStart, long targetStart, long length) {
    }

    /**
     * {@code count} element runs: run {@code i} copies {@code length} elements from
     * {@code sourceOffset + i*sourceStride} of the source shard to {@code targetOffset + i*targetStride} of the
     * target shard.
     *
     * @param source source TP index
     * @param sourceOffset first source element
     * @param targetOffset first target element
     * @param length elements per run
     * @param count runs
     * @param sourceStride elements between runs in the source
     * @param targetStride elements between runs in the target
     */
    public record ElementRun(int source, long sourceOffset, long targetOffset, long length, long count,
                             long sourceStride, long targetStride) {
    }

    /**
     * Pipeline stage and TP rank of one shard of a whole model.
     *
     * @param stage pipeline stage
     * @param tp tensor-parallel rank
     */
    public record ShardKey(int stage, int tp) {
    }

    /**
     * The ranges of the full shard dimension that TP shard {@code s} of {@code n} holds, in shard order: slice
     * {@code s} of every component. A fused QKV's k and v components follow the grouped-query rule: with
     * {@code kvHeads % n == 0} shard {@code s} holds KV heads {@code [s*kvHeads/n, (s+1)*kvHeads/n)}; with
     * {@code n % kvHeads == 0} it holds the one KV head {@code s / (n/kvHeads)}, replicated on {@code n/kvHeads}
     * shards.
     *
     * @throws IllegalArgumentException if {@code n} does not divide a component, or {@code n} and the KV heads do
     *         not divide one another
     */
    public static List<long[]> slices(ParameterSpec p, int n, int s) {
        if (!p.kind().isSharded()) {
            return List.of(new long[] {0, 1});
        }
        int kvReplicas = kvReplicas(p, n);
        List<long[]> result = new ArrayList<>();
        long offset = 0;
        int c = 0;
        for (long component : p.kind().components(p.shape().dim(p.kind().shardDim()))) {
            if (c > 0 && kvReplicas > 1) {
                long head = ((ParameterKind.FusedQkv) p.kind()).headDim();
                result.add(new long[] {offset + (long) (s / kvReplicas) * head, head});
            } else {
                if (component % n != 0) {
                    throw new IllegalArgumentException("TP degree must divide every component: name=" + p.name()
                            + ", component=" + component + ", tp=" + n);
                }
                long part = component / n;
                result.add(new long[] {offset + s * part, part});
            }
            offset += component;
            c++;
        }
        return result;
    }

    /**
     * How many of {@code n} TP shards hold each KV head of a fused QKV: {@code n/kvHeads} when {@code n > kvHeads},
     * else 1 (also for every other kind).
     *
     * @throws IllegalArgumentException if {@code n} and the KV heads do not divide one another
     */
    public static int kvReplicas(ParameterSpec p, int n) {
        if (!(p.kind() instanceof ParameterKind.FusedQkv qkv)) {
            return 1;
        }
        int kv = qkv.kvHeads();
        if (kv % n == 0) {
            return 1;
        }
        if (n % kv != 0) {
            throw new IllegalArgumentException("TP degree and kv heads must divide one another: t=" + n
                    + ", kvHeads=" + kv + ", name=" + p.name());
        }
        return n / kv;
    }

    /**
     * The pieces that build TP shard {@code target} of {@code nTo} from the TP shards of {@code nFrom}, in target
     * order; one of {@code nFrom}, {@code nTo} must divide the other. Every unit of the target comes from exactly one
     * source, taken among the shards that cover the target ({@code [target*nFrom/nTo, (target+1)*nFrom/nTo)}, or the
     * one shard {@code target*nFrom/nTo} when {@code nTo > nFrom}); a unit that several of them hold (a replicated KV
     * head) is split into equal consecutive parts, one per holder, so each holder sends an equal share once.
     * Replicated parameters give one piece from source {@code target*nFrom/nTo}.
     *
     * @throws IllegalArgumentException if neither degree divides the other or a degree does not fit a component
     */
    public static List<ShardPiece> pieces(ParameterSpec p, int nFrom, int nTo, int target) {
        if (nFrom % nTo != 0 && nTo % nFrom != 0) {
            throw new IllegalArgumentException("TP degrees must divide one another: from=" + nFrom + ", to=" + nTo);
        }
        if (!p.kind().isSharded()) {
            return List.of(new ShardPiece((int) ((long) target * nFrom / nTo), 0, 0, 1));
        }
        int firstSource = (int) ((long) target * nFrom / nTo);
        int sourceCount = nFrom > nTo ? nFrom / nTo : 1;
        List<List<long[]>> sourceSlices = new ArrayList<>(sourceCount);
        for (int i = 0; i < sourceCount; i++) {
            sourceSlices.add(slices(p, nFrom, firstSource + i));
        }
        List<long[]> targetSlices = slices(p, nTo, target);
        List<ShardPiece> result = new ArrayList<>();
        long targetPos = 0;
        for (int c = 0; c < targetSlices.size(); c++) {
            long start = targetSlices.get(c)[0];
            long end = start + targetSlices.get(c)[1];
            long componentOffsetInSource = 0;
            for (int k = 0; k < c; k++) {
                componentOffsetInSource += sourceSlices.getFirst().get(k)[1];
            }
            long pos = start;
            while (pos < end) {
                // the holders of pos, and how far they all keep holding it
                List<Integer> holders = new ArrayList<>();
                long until = end;
                for (int i = 0; i < sourceCount; i++) {
                    long[] slice = sourceSlices.get(i).get(c);
                    if (slice[0] <= pos && pos < slice[0] + slice[1]) {
                        holders.add(i);
                        until = Math.min(until, slice[0] + slice[1]);
                    } else if (slice[0] > pos) {
                        until = Math.min(until, slice[0]);
                    }
                }
                if (holders.isEmpty()) {
                    throw new IllegalStateException("no source holds a unit of the target: name=" + p.name()
                            + ", from=" + nFrom + ", to=" + nTo + ", target=" + target + ", unit=" + pos);
                }
                long length = until - pos;
                for (int h = 0; h < holders.size(); h++) {
                    long lo = pos + length * h / holders.size();
                    long hi = pos + length * (h + 1) / holders.size();
                    if (hi > lo) {
                        long[] slice = sourceSlices.get(holders.get(h)).get(c);
                        result.add(new ShardPiece(firstSource + holders.get(h),
                                componentOffsetInSource + (lo - slice[0]), targetPos + (lo - start), hi - lo));
                    }
                }
                pos = until;
            }
            targetPos += end - start;
        }
        return result;
    }

    /**
     * Where the whole of TP shard {@code source} of {@code nFrom} sits inside the shard of {@code nTo} that covers it
     * ({@code source*nTo/nFrom}; {@code nTo} divides {@code nFrom}): one piece per component, in source order.
     *
     * @throws IllegalArgumentException if {@code nTo} does not divide {@code nFrom} or a degree does not fit
     */
    public static List<ShardPiece> placement(ParameterSpec p, int nFrom, int nTo, int source) {
        if (nFrom % nTo != 0) {
            throw new IllegalArgumentException("target TP degree must divide the source's: from=" + nFrom + ", to="
                    + nTo);
        }
        if (!p.kind().isSharded()) {
            return List.of(new ShardPiece(source, 0, 0, 1));
        }
        List<long[]> from = slices(p, nFrom, source);
        List<long[]> to = slices(p, nTo, (int) ((long) source * nTo / nFrom));
        List<ShardPiece> result = new ArrayList<>();
        long sourcePos = 0;
        long targetPos = 0;
        for (int c = 0; c < from.size(); c++) {
            long[] a = from.get(c);
            long[] b = to.get(c);
            if (a[0] < b[0] || a[0] + a[1] > b[0] + b[1]) {
                throw new IllegalStateException("source shard outside its target: name=" + p.name() + ", from="
                        + nFrom + ", to=" + nTo + ", source=" + source);
            }
            result.add(new ShardPiece(source, sourcePos, targetPos + a[0] - b[0], a[1]));
            sourcePos += a[1];
            targetPos += b[1];
        }
        return result;
    }

    /**
     * The element runs of {@link #pieces}: for shard dim 0 one run per piece ({@code length*rowLength} elements),
     * for shard dim 1 one strided run per piece (a run per row).
     *
     * @throws IllegalArgumentException as {@link #pieces}
     */
    public static List<ElementRun> runs(ParameterSpec p, int nFrom, int nTo, int target) {
        return toRuns(p, pieces(p, nFrom, nTo, target), nFrom, nTo);
    }

    /**
     * The element runs of {@link #placement}.
     *
     * @throws IllegalArgumentException as {@link #placement}
     */
    public static List<ElementRun> placementRuns(ParameterSpec p, int nFrom, int nTo, int source) {
        return toRuns(p, placement(p, nFrom, nTo, source), nFrom, nTo);
    }

    private static List<ElementRun> toRuns(ParameterSpec p, List<ShardPiece> pieces, int nFrom, int nTo) {
        List<ElementRun> result = new ArrayList<>(pieces.size());
        if (!p.kind().isSharded()) {
            ShardPiece piece = pieces.getFirst();
            result.add(new ElementRun(piece.source(), 0, 0, p.shape().numel(), 1, 0, 0));
            return result;
        }
        long inner = p.innerSize();
        long outer = p.outerSize();
        long fromWidth = p.kind().shardDim() == 1 ? p.shardShape(nFrom).dim(1) : 0;
        long toWidth = p.kind().shardDim() == 1 ? p.shardShape(nTo).dim(1) : 0;
        for (ShardPiece piece : pieces) {
            if (p.kind().shardDim() == 0) {
                result.add(new ElementRun(piece.source(), piece.sourceStart() * inner, piece.targetStart() * inner,
                        piece.length() * inner, 1, 0, 0));
            } else {
                result.add(new ElementRun(piece.source(), piece.sourceStart(), piece.targetStart(), piece.length(),
                        outer, fromWidth, toWidth));
            }
        }
        return result;
    }

    /**
     * TP shard {@code s} of {@code n} of a full parameter, by definition: slice {@code s} of every component along
     * the shard dimension, concatenated (replicated parameters: a copy).
     *
     * @throws IllegalArgumentException if the array does not match the shape or {@code n} does not divide a component
     */
    public static long[] shard(ParameterSpec p, long[] full, int n, int s) {
        if (full.length != p.shape().numel()) {
            throw new IllegalArgumentException("array does not match the parameter: name=" + p.name() + ", length="
                    + full.length + ", numel=" + p.shape().numel());
        }
        if (!p.kind().isSharded()) {
            return full.clone();
        }
        long[] out = new long[Math.toIntExact(p.shardShape(n).numel())];
        int pos = 0;
        if (p.kind().shardDim() == 0) {
            int inner = (int) p.innerSize();
            for (long[] slice : slices(p, n, s)) {
                System.arraycopy(full, (int) slice[0] * inner, out, pos, (int) slice[1] * inner);
                pos += (int) slice[1] * inner;
            }
        } else {
            int rows = (int) p.shape().dim(0);
            int cols = (int) p.shape().dim(1);
            for (int r = 0; r < rows; r++) {
                for (long[] slice : slices(p, n, s)) {
                    System.arraycopy(full, r * cols + (int) slice[0], out, pos, (int) slice[1]);
                    pos += (int) slice[1];
                }
            }
        }
        return out;
    }

    /**
     * Builds TP shard {@code target} of {@code nTo} from all TP shards of {@code nFrom} with the reshard algebra
     * ({@link #runs}).
     *
     * @throws IllegalArgumentException if a source is missing or the degrees do not fit
     */
    public static long[] reshard(ParameterSpec p, List<long[]> sources, int nFrom, int nTo, int target) {
        if (sources.size() != nFrom) {
            throw new IllegalArgumentException("need one source per TP shard: name=" + p.name() + ", sources="
                    + sources.size() + ", tp=" + nFrom);
        }
        long[] out = new long[Math.toIntExact(p.shardShape(nTo).numel())];
        for (ElementRun run : runs(p, nFrom, nTo, target)) {
            long[] src = sources.get(run.source());
            for (long i = 0; i < run.count(); i++) {
                System.arraycopy(src, (int) (run.sourceOffset() + i * run.sourceStride()), out,
                        (int) (run.targetOffset() + i * run.targetStride()), (int) run.length());
            }
        }
        return out;
    }

    /**
     * Every shard of a whole model under {@code p} stages and TP degree {@code t}: for each (stage, tp), the
     * stage-local names (layer renumbered) and their shards.
     *
     * @throws IllegalArgumentException if a parameter is missing or the layout does not fit the model
     */
    public static Map<ShardKey, Map<String, long[]>> shardModel(ModelSpec spec, Map<String, long[]> full, int t,
                                                               int p) {
        Map<ShardKey, Map<String, long[]>> result = new TreeMap<>(KEY_ORDER);
        for (int stage = 0; stage < p; stage++) {
            for (int tp = 0; tp < t; tp++) {
                Map<String, long[]> shards = new LinkedHashMap<>();
                for (ParameterSpec param : spec.stageParameters(stage, p)) {
                    long[] w = full.get(param.name());
                    if (w == null) {
                        throw new IllegalArgumentException("missing parameter: name=" + param.name());
                    }
                    shards.put(param.localName(p, spec.layers()), shard(param, w, t, tp));
                }
                result.put(new ShardKey(stage, tp), shards);
            }
        }
        return result;
    }

    /**
     * Reshards a whole model from ({@code tFrom}, {@code pFrom}) to ({@code tTo}, {@code pTo}) using only the
     * source shards: TP pieces per parameter and pipeline merge or split with layer renumbering
     * ({@code global = local + stage * layersPerStage}).
     *
     * @throws IllegalArgumentException if a source shard is missing or the degrees do not fit
     */
    public static Map<ShardKey, Map<String, long[]>> reshardModel(ModelSpec spec,
                                                                 Map<ShardKey, Map<String, long[]>> from, int tFrom,
                                                                 int pFrom, int tTo, int pTo) {
        Map<ShardKey, Map<String, long[]>> result = new TreeMap<>(KEY_ORDER);
        int fromPerStage = ParameterSpec.layersPerStage(pFrom, spec.layers());
        for (int stage = 0; stage < pTo; stage++) {
            for (int tp = 0; tp < tTo; tp++) {
                Map<String, long[]> shards = new LinkedHashMap<>();
                for (ParameterSpec param : spec.stageParameters(stage, pTo)) {
                    int sourceStage = param.stage(pFrom, spec.layers());
                    String sourceName = param.localName(pFrom, spec.layers());
                    if (!ParameterSpec.globalName(sourceName, sourceStage, fromPerStage).equals(param.name())) {
                        throw new IllegalStateException("layer renumbering broke: name=" + param.name());
                    }
                    List<long[]> sources = new ArrayList<>(tFrom);
                    for (int s = 0; s < tFrom; s++) {
                        Map<String, long[]> sourceShards = from.get(new ShardKey(sourceStage, s));
                        long[] shard = sourceShards == null ? null : sourceShards.get(sourceName);
                        if (shard == null) {
                            throw new IllegalArgumentException("missing source shard: name=" + sourceName
                                    + ", stage=" + sourceStage + ", tp=" + s);
                        }
                        sources.add(shard);
                    }
                    shards.put(param.localName(pTo, spec.layers()), reshard(param, sources, tFrom, tTo, tp));
                }
                result.put(new ShardKey(stage, tp), shards);
            }
        }
        return result;
    }

    private static final java.util.Comparator<ShardKey> KEY_ORDER =
            java.util.Comparator.comparingInt(ShardKey::stage).thenComparingInt(ShardKey::tp);
}
