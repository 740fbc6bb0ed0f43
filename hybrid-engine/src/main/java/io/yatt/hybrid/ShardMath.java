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
     * {@code s} of every component.
     *
     * @throws IllegalArgumentException if {@code n} does not divide every component
     */
    public static List<long[]> slices(ParameterSpec p, int n, int s) {
        if (!p.kind().isSharded()) {
            return List.of(new long[] {0, 1});
        }
        List<long[]> result = new ArrayList<>();
        long offset = 0;
        for (long component : p.kind().components(p.shape().dim(p.kind().shardDim()))) {
            if (component % n != 0) {
                throw new IllegalArgumentException("TP degree must divide every component: name=" + p.name()
                        + ", component=" + component + ", tp=" + n);
            }
            long part = component / n;
            result.add(new long[] {offset + s * part, part});
            offset += component;
        }
        return result;
    }

    /**
     * The pieces that build TP shard {@code target} of {@code nTo} from the TP shards of {@code nFrom}, in target
     * order; one of {@code nFrom}, {@code nTo} must divide the other. Replicated parameters give one piece from
     * source {@code target*nFrom/nTo}.
     *
     * @throws IllegalArgumentException if neither degree divides the other or a degree does not divide a component
     */
    public static List<ShardPiece> pieces(ParameterSpec p, int nFrom, int nTo, int target) {
        if (nFrom % nTo != 0 && nTo % nFrom != 0) {
            throw new IllegalArgumentException("TP degrees must divide one another: from=" + nFrom + ", to=" + nTo);
        }
        if (!p.kind().isSharded()) {
            return List.of(new ShardPiece((int) ((long) target * nFrom / nTo), 0, 0, 1));
        }
        // Each target slice (one component's part) is covered by the source shards' slices of the same component.
        List<long[]> targetSlices = slices(p, nTo, target);
        List<ShardPiece> result = new ArrayList<>();
        long targetPos = 0;
        for (int c = 0; c < targetSlices.size(); c++) {
            long start = targetSlices.get(c)[0];
            long length = targetSlices.get(c)[1];
            long end = start + length;
            long sourcePart = slices(p, nFrom, 0).get(c)[1];
            long componentStart = slices(p, nFrom, 0).get(c)[0];
            long componentOffsetInSource = 0;
            for (int k = 0; k < c; k++) {
                componentOffsetInSource += slices(p, nFrom, 0).get(k)[1];
            }
            long pos = start;
            while (pos < end) {
                int source = (int) ((pos - componentStart) / sourcePart);
                long sourceSliceStart = componentStart + source * sourcePart;
                long take = Math.min(end, sourceSliceStart + sourcePart) - pos;
                result.add(new ShardPiece(source, componentOffsetInSource + (pos - sourceSliceStart),
                        targetPos + (pos - start), take));
                pos += take;
            }
            targetPos += length;
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
        List<ShardPiece> pieces = pieces(p, nFrom, nTo, target);
        List<ElementRun> result = new ArrayList<>(pieces.size());
        if (!p.kind().isSharded()) {
            ShardPiece piece = pieces.getFirst();
            result.add(new ElementRun(piece.source(), 0, 0, p.shape().numel(), 1, 0, 0));
            return result;
        }
        long inner = p.innerSize();
        long outer = p.outerSize();
        long fromWidth = p.kind().shardDim() == 1 ? p.shape().dim(1) / nFrom : 0;
        long toWidth = p.kind().shardDim() == 1 ? p.shape().dim(1) / nTo : 0;
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
        long[] out = new long[Math.toIntExact(p.shape().numel() / n)];
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
