package io.yatt.collectives;

import io.yatt.tensor.Allocator;
import io.yatt.tensor.DType;
import io.yatt.tensor.Half;
import io.yatt.tensor.Shape;
import io.yatt.tensor.Tensor;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import static io.yatt.collectives.CollectiveTestData.bytes;
import static io.yatt.collectives.CollectiveTestData.concat;
import static io.yatt.collectives.CollectiveTestData.input;
import static io.yatt.collectives.CollectiveTestData.inputs;
import static io.yatt.collectives.CollectiveTestData.reduce;
import static io.yatt.collectives.CollectiveTestData.slice;
import static io.yatt.collectives.CollectiveTestData.tensor;
import static io.yatt.collectives.CollectiveTestData.zeros;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The contract every {@link Communicator} backend passes: every op x dtype x rank count (1, 2, 3, 4, 8) x sizes
 * (0, 1, primes, non-multiples of the rank count), in place and out of place, against {@link CollectiveTestData}'s
 * reference, bit for bit; split, fused groups, async handles, timeouts, mismatches and argument errors.
 *
 * <p>A backend subclasses this and implements {@link #harness(int, Communicator.Context)}. The default run takes a
 * representative slice of the matrix (every dtype x op x placement, each with two rank-count/size pairs that rotate
 * through the lists, plus a few multi-megabyte cases on 3 and 4 ranks per op); {@code -Dyatt.conformance.full=true} (Maven profile {@code conformance-full}) runs all of it.
 * Public so that backends in other packages can subclass it.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
public abstract class CommunicatorConformanceTest {
    /** System property that selects the full matrix. */
    public static final String FULL_PROP_NAME = "yatt.conformance.full";
    static final int[] RANK_COUNTS = {1, 2, 3, 4, 8};
    /** Per-rank element counts: empty, one, small primes, a non-multiple of every rank count, a multi-block prime. */
    static final long[] COUNTS = {0, 1, 2, 7, 13, 127, 1000, 4099};
    /** A large per-rank count (not a multiple of 3) appended for every op: megabytes, where backends switch paths. */
    static final long LARGE_COUNT = 600_011;
    static final DType[] REDUCIBLE = {DType.F32, DType.F64, DType.F16, DType.BF16, DType.I32, DType.I64};
    static final DType[] ALL = {DType.F32, DType.F64, DType.F16, DType.BF16, DType.I32, DType.I64, DType.I8, DType.U8,
            DType.BOOL};
    static final long TEST_TIMEOUT_NS = TimeUnit.SECONDS.toNanos(30);
    static final long SHORT_TIMEOUT_NS = TimeUnit.MILLISECONDS.toNanos(400);

    private final Map<Integer, CommunicatorHarness> harnesses = new HashMap<>();

    /** A harness of {@code worldSize} ranks whose communicators use {@code context}. */
    protected abstract CommunicatorHarness harness(int worldSize, Communicator.Context context);

    /** The context the shared harnesses use: a 30 s deadline and debug checks on. */
    protected Communicator.Context defaultContext() {
        return new Communicator.Context().timeoutNs(TEST_TIMEOUT_NS).debugChecks(true);
    }

    @AfterAll
    void closeHarnesses() {
        for (CommunicatorHarness harness : harnesses.values()) {
            harness.close();
        }
        harnesses.clear();
    }

    /** Runs the task on every rank of the shared harness of that size; fails (and drops the harness) if any rank failed. */
    protected final <T> List<T> onEveryRank(int size, RankTask<T> task) {
        CommunicatorHarness harness = harnesses.computeIfAbsent(size, s -> harness(s, defaultContext()));
        List<RankOutcome<T>> outcomes = harness.run(task);
        List<T> values = new ArrayList<>();
        AssertionError failure = null;
        for (RankOutcome<T> outcome : outcomes) {
            if (outcome.failure() != null) {
                if (failure == null) {
                    failure = new AssertionError("rank " + outcome.rank() + " failed: " + outcome.failure(),
                            outcome.failure());
                } else {
                    failure.addSuppressed(outcome.failure());
                }
            }
            values.add(outcome.value());
        }
        if (failure != null) {
            harnesses.remove(size);
            try {
                harness.close();
            } catch (RuntimeException e) {
                failure.addSuppressed(e);
            }
            throw failure;
        }
        return values;
    }

    /** Runs the task once on a fresh harness with {@code context} and returns every rank's outcome. */
    protected final <T> List<RankOutcome<T>> onFreshHarness(int size, Communicator.Context context, RankTask<T> task) {
        try (CommunicatorHarness harness = harness(size, context)) {
            return harness.run(task);
        }
    }

    // ---------------------------------------------------------------------------------------------------------
    // The matrix.

    /** One conformance case; {@code count} is per rank (all-gather send, reduce-scatter recv, all-to-all chunk). */
    public record Case(DType dtype, ReduceOp op, int ranks, long count, boolean inPlace, int root) {
        long seed() {
            return ((((long) dtype.ordinal() * 7 + (op == null ? 5 : op.ordinal())) * 11 + ranks) * 8191 + count) * 2
                    + (inPlace ? 1 : 0) + 13L * root;
        }

        @Override
        public String toString() {
            return dtype + (op == null ? "" : " " + op) + " ranks=" + ranks + " count=" + count
                    + (inPlace ? " in-place" : " out-of-place") + (root < 0 ? "" : " root=" + root);
        }
    }

    static boolean full() {
        return Boolean.getBoolean(FULL_PROP_NAME);
    }

    /** The full product, or for each primary key two rotating (ranks, count) pairs. */
    static Stream<Case> cases(DType[] dtypes, boolean withOp, boolean withPlacement, boolean withRoot) {
        List<Case> out = new ArrayList<>();
        ReduceOp[] ops = withOp ? ReduceOp.values() : new ReduceOp[] {null};
        boolean[] placements = withPlacement ? new boolean[] {false, true} : new boolean[] {false};
        int[] rootChoices = withRoot ? new int[] {0, 1} : new int[] {-1};
        int primary = 0;
        for (DType dtype : dtypes) {
            for (ReduceOp op : ops) {
                for (boolean inPlace : placements) {
                    for (int rootChoice : rootChoices) {
                        int secondary = 0;
                        for (int ranks : RANK_COUNTS) {
                            for (long count : COUNTS) {
                                int pick = (primary * 7) % (RANK_COUNTS.length * COUNTS.length);
                                int pick2 = (primary * 7 + 19) % (RANK_COUNTS.length * COUNTS.length);
                                if (full() || secondary == pick || secondary == pick2) {
                                    int root = rootChoice < 0 ? -1 : rootChoice == 0 ? 0 : ranks - 1;
                                    out.add(new Case(dtype, op, ranks, count, inPlace, root));
                                }
                                secondary++;
                            }
                        }
                        primary++;
                    }
                }
            }
        }
        int large = 0;
        for (DType dtype : new DType[] {DType.F32, DType.F64}) {
            for (boolean inPlace : placements) {
                ReduceOp op = withOp ? ReduceOp.values()[large % ReduceOp.values().length] : null;
                int ranks = large % 2 == 0 ? 3 : 4;
                out.add(new Case(dtype, op, ranks, LARGE_COUNT, inPlace, withRoot ? ranks - 1 : -1));
                large++;
            }
        }
        return out.stream();
    }

    static Stream<Case> reductionCases() {
        return cases(REDUCIBLE, true, true, false);
    }

    static Stream<Case> rootedReductionCases() {
        return cases(REDUCIBLE, true, true, true);
    }

    static Stream<Case> copyCases() {
        return cases(ALL, false, true, false);
    }

    static Stream<Case> rootedCopyCases() {
        return cases(ALL, false, true, true);
    }

    static Stream<Case> plainCases() {
        return cases(ALL, false, false, false);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("reductionCases")
    void shouldAllReduce(Case c) {
        DType dtype = c.dtype();
        ReduceOp op = c.op();
        long count = c.count();
        long seed = c.seed();
        boolean inPlace = c.inPlace();
        byte[] expected = reduce(dtype, op, inputs(dtype, c.ranks(), count, seed), 0, count);
        List<byte[][]> results = onEveryRank(c.ranks(), ctx -> {
            byte[] mine = input(dtype, ctx.rank(), count, seed);
            try (Tensor send = tensor(ctx, dtype, mine); Tensor recv = inPlace ? null : zeros(ctx, dtype, count)) {
                if (inPlace) {
                    ctx.communicator().allReduce(send, op);
                    return new byte[][] {bytes(send), mine};
                }
                ctx.communicator().allReduce(send, recv, op);
                return new byte[][] {bytes(recv), bytes(send)};
            }
        });
        for (int r = 0; r < c.ranks(); r++) {
            assertArrayEquals(expected, results.get(r)[0], "result on rank " + r);
            if (!inPlace) {
                assertArrayEquals(input(dtype, r, count, seed), results.get(r)[1], "send untouched on rank " + r);
            }
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("reductionCases")
    void shouldReduceScatter(Case c) {
        DType dtype = c.dtype();
        ReduceOp op = c.op();
        long count = c.count();
        long seed = c.seed();
        boolean inPlace = c.inPlace();
        int size = c.ranks();
        byte[][] all = inputs(dtype, size, count * size, seed);
        List<byte[]> results = onEveryRank(size, ctx -> {
            try (Tensor send = tensor(ctx, dtype, input(dtype, ctx.rank(), count * size, seed));
                 Tensor recv = inPlace ? send.narrow(0, ctx.rank() * count, count) : zeros(ctx, dtype, count)) {
                ctx.communicator().reduceScatter(send, recv, op);
                return bytes(recv);
            }
        });
        for (int r = 0; r < size; r++) {
            assertArrayEquals(reduce(dtype, op, all, r * count, count), results.get(r), "result on rank " + r);
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("rootedReductionCases")
    void shouldReduceToRoot(Case c) {
        DType dtype = c.dtype();
        ReduceOp op = c.op();
        long count = c.count();
        long seed = c.seed();
        boolean inPlace = c.inPlace();
        int root = c.root();
        byte[] expected = reduce(dtype, op, inputs(dtype, c.ranks(), count, seed), 0, count);
        List<byte[]> results = onEveryRank(c.ranks(), ctx -> {
            try (Tensor send = tensor(ctx, dtype, input(dtype, ctx.rank(), count, seed));
                 Tensor recv = inPlace ? null : zeros(ctx, dtype, count)) {
                ctx.communicator().reduce(send, inPlace ? send : recv, op, root);
                return bytes(inPlace ? send : recv);
            }
        });
        for (int r = 0; r < c.ranks(); r++) {
            byte[] untouched = inPlace ? input(dtype, r, count, seed) : new byte[(int) (count * dtype.byteSize())];
            assertArrayEquals(r == root ? expected : untouched, results.get(r), "recv on rank " + r);
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("copyCases")
    void shouldAllGather(Case c) {
        DType dtype = c.dtype();
        long count = c.count();
        long seed = c.seed();
        boolean inPlace = c.inPlace();
        int size = c.ranks();
        byte[] expected = concat(inputs(dtype, size, count, seed));
        List<byte[]> results = onEveryRank(size, ctx -> {
            byte[] mine = input(dtype, ctx.rank(), count, seed);
            if (inPlace) {
                byte[] initial = new byte[(int) (count * size * dtype.byteSize())];
                System.arraycopy(mine, 0, initial, (int) (ctx.rank() * count * dtype.byteSize()), mine.length);
                try (Tensor recv = tensor(ctx, dtype, initial);
                     Tensor send = recv.narrow(0, ctx.rank() * count, count)) {
                    ctx.communicator().allGather(send, recv);
                    return bytes(recv);
                }
            }
            try (Tensor send = tensor(ctx, dtype, mine); Tensor recv = zeros(ctx, dtype, count * size)) {
                ctx.communicator().allGather(send, recv);
                return bytes(recv);
            }
        });
        for (int r = 0; r < size; r++) {
            assertArrayEquals(expected, results.get(r), "result on rank " + r);
        }
    }

    /** Cases of the view all-gathers: ranks x in place, on BF16 and I32 ({@code count} = rows of each block). */
    static Stream<Case> viewCases() {
        List<Case> cases = new ArrayList<>();
        int[][] shapes = {{1, 5}, {2, 3}, {3, 17}, {4, 4}};
        for (DType dtype : new DType[] {DType.BF16, DType.I32}) {
            for (int[] rs : shapes) {
                for (boolean inPlace : new boolean[] {false, true}) {
                    cases.add(new Case(dtype, null, rs[0], rs[1], inPlace, 0));
                }
            }
        }
        return cases.stream();
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("viewCases")
    void shouldAllGatherIntoStridedColumnBlockViews(Case c) {
        DType dtype = c.dtype();
        long rows = c.count();
        long width = 3;
        long seed = c.seed();
        boolean inPlace = c.inPlace();
        int size = c.ranks();
        byte[][] all = inputs(dtype, size, rows * width, seed);
        List<byte[]> results = onEveryRank(size, ctx -> {
            try (Tensor full = zeros(ctx, dtype, rows * size * width);
                 Tensor mine = tensor(ctx, dtype, input(dtype, ctx.rank(), rows * width, seed))) {
                Tensor matrix = full.view(Shape.of(rows, size * width));
                List<Tensor> blocks = new ArrayList<>();
                for (int q = 0; q < size; q++) {
                    blocks.add(matrix.narrow(1, q * width, width));
                }
                Tensor send = mine.view(Shape.of(rows, width));
                if (inPlace) {
                    blocks.get(ctx.rank()).copyFrom(send);
                    send = blocks.get(ctx.rank());
                }
                ctx.communicator().allGather(send, blocks);
                return bytes(full);
            }
        });
        List<byte[]> parts = new ArrayList<>();
        for (long r = 0; r < rows; r++) {
            for (int q = 0; q < size; q++) {
                parts.add(slice(dtype, all[q], r * width, width));
            }
        }
        byte[] expected = concat(parts.toArray(new byte[0][]));
        for (int r = 0; r < size; r++) {
            assertArrayEquals(expected, results.get(r), "result on rank " + r);
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("viewCases")
    void shouldAllGathervPiecesOfUnequalSizesIntoPlace(Case c) {
        DType dtype = c.dtype();
        long unit = c.count();
        long seed = c.seed();
        int size = c.ranks();
        // rank q sends pieces a (q * unit elements, empty on rank 0) and b (unit + 1); receivers store b before a
        long[] totals = new long[size];
        long all = 0;
        for (int q = 0; q < size; q++) {
            totals[q] = q * unit + unit + 1;
            all += totals[q];
        }
        long sum = all;
        List<byte[]> results = onEveryRank(size, ctx -> {
            int me = ctx.rank();
            try (Tensor out = zeros(ctx, dtype, sum);
                 Tensor mine = tensor(ctx, dtype, input(dtype, me, totals[me], seed))) {
                List<List<Tensor>> recv = new ArrayList<>();
                long at = 0;
                for (int q = 0; q < size; q++) {
                    Tensor b = out.narrow(0, at, unit + 1);
                    Tensor a = out.narrow(0, at + unit + 1, q * unit);
                    recv.add(List.of(a, b));
                    at += totals[q];
                }
                List<Tensor> send = List.of(mine.narrow(0, 0, me * unit), mine.narrow(0, me * unit, unit + 1));
                ctx.communicator().allGatherv(send, recv);
                return bytes(out);
            }
        });
        List<byte[]> parts = new ArrayList<>();
        for (int q = 0; q < size; q++) {
            byte[] in = input(dtype, q, totals[q], seed);
            parts.add(slice(dtype, in, q * unit, unit + 1));
            parts.add(slice(dtype, in, 0, q * unit));
        }
        byte[] expected = concat(parts.toArray(new byte[0][]));
        for (int r = 0; r < size; r++) {
            assertArrayEquals(expected, results.get(r), "result on rank " + r);
        }
    }

    /**
     * Whether this backend's {@code allGatherv} stages through scratch memory (the interface default: one tensor of
     * every rank's total); backends with direct placement override this with false.
     */
    protected boolean allGathervStages() {
        return true;
    }

    @ParameterizedTest(name = "ranks={0}")
    @ValueSource(ints = {1, 2, 3})
    void shouldChargeAllGathervScratchToTheCallersAllocator(int size) {
        boolean stages = allGathervStages();
        List<long[]> results = onEveryRank(size, ctx -> {
            int me = ctx.rank();
            int n = ctx.size();
            long all = 0;
            for (int q = 0; q < n; q++) {
                all += q + 5;
            }
            try (Allocator scratch = Allocator.root("scratch-rank" + me);
                 Tensor mine = tensor(ctx, DType.I32, input(DType.I32, me, me + 5, 11));
                 Tensor out = zeros(ctx, DType.I32, all)) {
                List<List<Tensor>> recv = new ArrayList<>();
                long at = 0;
                for (int q = 0; q < n; q++) {
                    recv.add(List.of(out.narrow(0, at, q + 5)));
                    at += q + 5;
                }
                ctx.communicator().allGatherv(List.of(mine), recv, scratch);
                return new long[] {scratch.peakBytes(), scratch.allocatedBytes(), all};
            }
        });
        for (int r = 0; r < size; r++) {
            long[] c = results.get(r);
            // staging: one I32 tensor of every rank's total, (5 + 6 + ... + (size + 4)) elements
            assertEquals(stages ? c[2] * 4 : 0, c[0], "scratch peak on rank " + r);
            assertEquals(0, c[1], "scratch still allocated on rank " + r);
        }
    }

    @Test
    void shouldRejectAllGatherViewListsOfTheWrongLength() {
        assertEquals(List.of("allGatherv needs one view list per rank: lists=1, size=2",
                        "allGatherv needs one view list per rank: lists=1, size=2"),
                argumentErrors(2, ctx -> {
                    try (Tensor buf = zeros(ctx, DType.F32, 2)) {
                        ctx.communicator().allGather(buf, List.of(buf));
                    }
                    return null;
                }));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("rootedCopyCases")
    void shouldBroadcast(Case c) {
        DType dtype = c.dtype();
        long count = c.count();
        long seed = c.seed();
        boolean inPlace = c.inPlace();
        int root = c.root();
        byte[] expected = input(dtype, root, count, seed);
        List<byte[]> results = onEveryRank(c.ranks(), ctx -> {
            try (Tensor send = tensor(ctx, dtype, input(dtype, ctx.rank(), count, seed));
                 Tensor recv = inPlace ? null : zeros(ctx, dtype, count)) {
                if (inPlace) {
                    ctx.communicator().broadcast(send, root);
                    return bytes(send);
                }
                ctx.communicator().broadcast(send, recv, root);
                return bytes(recv);
            }
        });
        for (int r = 0; r < c.ranks(); r++) {
            assertArrayEquals(expected, results.get(r), "result on rank " + r);
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("plainCases")
    void shouldAllToAll(Case c) {
        DType dtype = c.dtype();
        long chunk = c.count();
        long seed = c.seed();
        int size = c.ranks();
        byte[][] all = inputs(dtype, size, chunk * size, seed);
        List<byte[]> results = onEveryRank(size, ctx -> {
            try (Tensor send = tensor(ctx, dtype, input(dtype, ctx.rank(), chunk * size, seed));
                 Tensor recv = zeros(ctx, dtype, chunk * size)) {
                ctx.communicator().allToAll(send, recv);
                return bytes(recv);
            }
        });
        for (int r = 0; r < size; r++) {
            byte[][] parts = new byte[size][];
            for (int q = 0; q < size; q++) {
                parts[q] = slice(dtype, all[q], r * chunk, chunk);
            }
            assertArrayEquals(concat(parts), results.get(r), "result on rank " + r);
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("plainCases")
    void shouldSendAndReceiveAroundARingInAGroup(Case c) {
        DType dtype = c.dtype();
        long count = c.count();
        long seed = c.seed();
        int size = c.ranks();
        List<byte[]> results = onEveryRank(size, ctx -> {
            int right = (ctx.rank() + 1) % size;
            int left = (ctx.rank() + size - 1) % size;
            try (Tensor send = tensor(ctx, dtype, input(dtype, ctx.rank(), count, seed));
                 Tensor recv = zeros(ctx, dtype, count)) {
                try (CollectiveGroup group = ctx.communicator().group()) {
                    ctx.communicator().send(send, right);
                    ctx.communicator().recv(recv, left);
                }
                return bytes(recv);
            }
        });
        for (int r = 0; r < size; r++) {
            assertArrayEquals(input(dtype, (r + size - 1) % size, count, seed), results.get(r), "result on rank " + r);
        }
    }

    // ---------------------------------------------------------------------------------------------------------
    // Accumulation rules.

    @Test
    void shouldAccumulateBf16AndF16SumsInF32AndRoundOnce() {
        // 1 + 2^-8 + 2^-8: rounding after each step (ties to even) gives 1.0; one f32 sum rounded once gives 1 + 2^-7.
        float[] operands = {1.0f, 0x1p-8f, 0x1p-8f};
        List<short[]> results = onEveryRank(3, ctx -> {
            short[] out = new short[2];
            int i = 0;
            for (DType dtype : new DType[] {DType.BF16, DType.F16}) {
                float value = operands[ctx.rank()];
                short bits = dtype == DType.BF16 ? Half.floatToBf16(value) : Half.floatToF16(value);
                byte[] content = ByteBuffer.allocate(2).order(ByteOrder.nativeOrder()).putShort(bits).array();
                try (Tensor buf = tensor(ctx, dtype, content)) {
                    ctx.communicator().allReduce(buf, ReduceOp.SUM);
                    out[i++] = ByteBuffer.wrap(bytes(buf)).order(ByteOrder.nativeOrder()).getShort();
                }
            }
            return out;
        });
        for (short[] result : results) {
            assertEquals(1.0078125f, Half.bf16ToFloat(result[0]));
            // F16 has 10 fraction bits: 1 + 2^-7 is exact there too, and the pairwise result would also be exact.
            assertEquals(1.0078125f, Half.f16ToFloat(result[1]));
        }
    }

    @Test
    void shouldAverageIntegersWithTruncatingDivision() {
        int[] operands = {-3, 0};
        List<Integer> results = onEveryRank(2, ctx -> {
            byte[] content = ByteBuffer.allocate(4).order(ByteOrder.nativeOrder()).putInt(operands[ctx.rank()]).array();
            try (Tensor buf = tensor(ctx, DType.I32, content)) {
                ctx.communicator().allReduce(buf, ReduceOp.AVG);
                return ByteBuffer.wrap(bytes(buf)).order(ByteOrder.nativeOrder()).getInt();
            }
        });
        assertEquals(List.of(-1, -1), results);
    }

    // ---------------------------------------------------------------------------------------------------------
    // Groups, async, split, barrier.

    @Test
    void shouldRunFusedGroupCallsTogetherInOrder() {
        int size = 3;
        long seed = 99;
        List<byte[][]> results = onEveryRank(size, ctx -> {
            Communicator comm = ctx.communicator();
            try (Tensor a = tensor(ctx, DType.F32, input(DType.F32, ctx.rank(), 5, seed));
                 Tensor b = tensor(ctx, DType.BF16, input(DType.BF16, ctx.rank(), 11, seed + 1));
                 Tensor c = tensor(ctx, DType.I64, input(DType.I64, ctx.rank(), 7, seed + 2));
                 Tensor gatheredA = zeros(ctx, DType.F32, 5 * size);
                 Tensor gatheredB = zeros(ctx, DType.BF16, 11 * size)) {
                try (CollectiveGroup group = comm.group()) {
                    comm.allGather(a, gatheredA);
                    comm.allGather(b, gatheredB);
                    comm.allReduce(c, ReduceOp.MAX);
                    comm.barrier();
                    assertArrayEquals(new byte[5 * size * 4], bytes(gatheredA), "queued, not yet run");
                }
                return new byte[][] {bytes(gatheredA), bytes(gatheredB), bytes(c)};
            }
        });
        for (byte[][] result : results) {
            assertArrayEquals(concat(inputs(DType.F32, size, 5, seed)), result[0]);
            assertArrayEquals(concat(inputs(DType.BF16, size, 11, seed + 1)), result[1]);
            assertArrayEquals(reduce(DType.I64, ReduceOp.MAX, inputs(DType.I64, size, 7, seed + 2), 0, 7), result[2]);
        }
    }

    @Test
    void shouldDoNothingForAnEmptyGroup() {
        List<Boolean> results = onEveryRank(2, ctx -> {
            if (ctx.rank() == 0) {
                ctx.communicator().group().close();
            }
            ctx.communicator().barrier();
            return true;
        });
        assertEquals(List.of(true, true), results);
    }

    @Test
    void shouldRejectNestedGroups() {
        List<String> results = onEveryRank(2, ctx -> {
            try (CollectiveGroup group = ctx.communicator().group()) {
                try {
                    ctx.communicator().group();
                    return "no exception";
                } catch (IllegalStateException e) {
                    return e.getMessage();
                }
            }
        });
        assertEquals(List.of("group already open: rank=0, groups do not nest", "group already open: rank=1, groups do not nest"),
                results);
    }

    @Test
    void shouldCompleteAsyncOperationsInCallOrder() {
        int size = 4;
        long seed = 7;
        List<byte[][]> results = onEveryRank(size, ctx -> {
            Communicator comm = ctx.communicator();
            try (Tensor a = tensor(ctx, DType.F32, input(DType.F32, ctx.rank(), 1000, seed));
                 Tensor b = tensor(ctx, DType.I32, input(DType.I32, ctx.rank(), 13, seed));
                 Tensor c = tensor(ctx, DType.F64, input(DType.F64, ctx.rank(), 3, seed));
                 Tensor gathered = zeros(ctx, DType.F64, 3 * size)) {
                CollectiveHandle first = comm.allReduceAsync(a, ReduceOp.SUM);
                CollectiveHandle second = comm.broadcastAsync(b, 2);
                comm.allGather(c, gathered);
                second.await(Duration.ofSeconds(30));
                first.await(TimeUnit.SECONDS.toNanos(30));
                assertTrue(first.isDone() && second.isDone());
                return new byte[][] {bytes(a), bytes(b), bytes(gathered)};
            }
        });
        for (byte[][] result : results) {
            assertArrayEquals(reduce(DType.F32, ReduceOp.SUM, inputs(DType.F32, size, 1000, seed), 0, 1000), result[0]);
            assertArrayEquals(input(DType.I32, 2, 13, seed), result[1]);
            assertArrayEquals(concat(inputs(DType.F64, size, 3, seed)), result[2]);
        }
    }

    @Test
    void shouldTimeOutAnAwaitWhileTheOperationKeepsRunning() {
        List<String> results = onEveryRank(2, ctx -> {
            try (Tensor buf = tensor(ctx, DType.F32, input(DType.F32, ctx.rank(), 4, 3))) {
                if (ctx.rank() == 1) {
                    Thread.sleep(300);
                    ctx.communicator().allReduce(buf, ReduceOp.SUM);
                    return "late";
                }
                CollectiveHandle handle = ctx.communicator().allReduceAsync(buf, ReduceOp.SUM);
                String message;
                try {
                    handle.await(TimeUnit.MILLISECONDS.toNanos(1));
                    message = "completed too early";
                } catch (CollectiveTimeoutException e) {
                    message = e.op() + " " + e.timeoutNs();
                }
                handle.await(Duration.ofSeconds(30));
                return message;
            }
        });
        assertEquals(List.of("allReduce 1000000", "late"), results);
    }

    @Test
    void shouldSplitByColorOrderedByKey() {
        int size = 8;
        List<int[]> results = onEveryRank(size, ctx -> {
            int rank = ctx.rank();
            int color = rank == 7 ? -1 : rank % 2;
            Optional<Communicator> sub = ctx.communicator().split(color, -rank);
            if (sub.isEmpty()) {
                return new int[] {-1, -1};
            }
            try (Communicator comm = sub.get();
                 Tensor mine = tensor(ctx, DType.I32, ByteBuffer.allocate(4).order(ByteOrder.nativeOrder()).putInt(rank).array());
                 Tensor gathered = zeros(ctx, DType.I32, comm.size())) {
                comm.allGather(mine, gathered);
                ByteBuffer world = ByteBuffer.wrap(bytes(gathered)).order(ByteOrder.nativeOrder());
                int[] out = new int[2 + comm.size()];
                out[0] = comm.rank();
                out[1] = comm.size();
                for (int i = 0; i < comm.size(); i++) {
                    out[2 + i] = world.getInt(i * 4);
                }
                return out;
            }
        });
        assertArrayEquals(new int[] {3, 4, 6, 4, 2, 0}, results.get(0));
        assertArrayEquals(new int[] {2, 3, 5, 3, 1}, results.get(1));
        assertArrayEquals(new int[] {0, 4, 6, 4, 2, 0}, results.get(6));
        assertArrayEquals(new int[] {0, 3, 5, 3, 1}, results.get(5));
        assertArrayEquals(new int[] {-1, -1}, results.get(7));
    }

    @Test
    void shouldSplitASubCommunicatorAgain() {
        List<Integer> results = onEveryRank(8, ctx -> {
            try (Communicator half = ctx.communicator().split(ctx.rank() / 4, ctx.rank()).orElseThrow();
                 Communicator quarter = half.split(half.rank() / 2, 0).orElseThrow();
                 Tensor buf = tensor(ctx, DType.I64, ByteBuffer.allocate(8).order(ByteOrder.nativeOrder())
                         .putLong(ctx.rank()).array())) {
                quarter.allReduce(buf, ReduceOp.SUM);
                return (int) ByteBuffer.wrap(bytes(buf)).order(ByteOrder.nativeOrder()).getLong();
            }
        });
        assertEquals(List.of(1, 1, 5, 5, 9, 9, 13, 13), results);
    }

    @Test
    void shouldHoldEveryRankAtTheBarrierUntilTheLastArrives() {
        // System.nanoTime is one monotonic clock for every rank (threads of this JVM, or rank JVMs on one host), so
        // each rank's release is compared with the moment the last rank actually arrived, not with a guessed delay
        List<long[]> arrivedAndReleasedNs = onEveryRank(3, ctx -> {
            if (ctx.rank() == 2) {
                Thread.sleep(250);
            }
            long arrivedNs = System.nanoTime();
            ctx.communicator().barrier();
            return new long[] {arrivedNs, System.nanoTime()};
        });
        long lastArrivalNs = Long.MIN_VALUE;
        for (long[] times : arrivedAndReleasedNs) {
            lastArrivalNs = Math.max(lastArrivalNs, times[0]);
        }
        for (int r = 0; r < 3; r++) {
            long releasedNs = arrivedAndReleasedNs.get(r)[1];
            assertTrue(releasedNs - lastArrivalNs >= 0, "rank " + r + " released "
                    + TimeUnit.NANOSECONDS.toMicros(lastArrivalNs - releasedNs) + " us before the last rank arrived");
        }
    }

    // ---------------------------------------------------------------------------------------------------------
    // Failures: a silent rank, mismatches.

    @Test
    void shouldTimeOutEveryWaitingRankNamingTheSilentRankAndAbort() {
        Communicator.Context context = defaultContext().timeoutNs(SHORT_TIMEOUT_NS);
        List<RankOutcome<String>> outcomes = onFreshHarness(3, context, ctx -> {
            try (Tensor send = zeros(ctx, DType.F32, 4); Tensor recv = zeros(ctx, DType.F32, 12)) {
                if (ctx.rank() == 2) {
                    Thread.sleep(TimeUnit.NANOSECONDS.toMillis(SHORT_TIMEOUT_NS) * 3);
                } else {
                    try {
                        ctx.communicator().allGather(send, recv);
                        return "no timeout";
                    } catch (CollectiveTimeoutException e) {
                        assertEquals("allGather", e.op());
                        assertEquals(List.of(2), e.missingRanks());
                        assertEquals(SHORT_TIMEOUT_NS, e.timeoutNs());
                        assertEquals("allGather timed out: op=allGather, seq=" + e.seq() + ", missing ranks=[2], timeoutNs="
                                + SHORT_TIMEOUT_NS, e.getMessage());
                    }
                }
                try {
                    ctx.communicator().barrier();
                    return "not aborted";
                } catch (CommunicatorAbortedException e) {
                    assertInstanceOf(CollectiveTimeoutException.class, e.getCause());
                    return e.getMessage().replaceAll("seq=\\d+", "seq=N");
                }
            }
        });
        String cause = "allGather timed out: op=allGather, seq=N, missing ranks=[2], timeoutNs=" + SHORT_TIMEOUT_NS;
        for (RankOutcome<String> outcome : outcomes) {
            assertEquals("communicator aborted: rank=" + outcome.rank() + ", size=3, cause=" + cause, outcome.get());
        }
        for (int r = 0; r < 2; r++) {
            long ms = TimeUnit.NANOSECONDS.toMillis(outcomes.get(r).elapsedNs());
            assertTrue(ms < TimeUnit.NANOSECONDS.toMillis(SHORT_TIMEOUT_NS) * 3 + 5000, "rank " + r + " took " + ms + " ms");
        }
    }

    // ---------------------------------------------------------------------------------------------------------
    // Close and abort (one skeleton: every backend through CommunicatorBase).

    /** Whether an {@link Communicator#abort()} reaches the peers' waiting calls (false for nccl: a local abort). */
    protected boolean abortReachesPeers() {
        return true;
    }

    @Test
    void shouldRejectCallsAfterCloseAndASecondClose() {
        List<String> results = onEveryRank(2, ctx -> {
            Communicator sub = ctx.communicator().split(0, ctx.rank()).orElseThrow();
            sub.close();
            String call;
            try {
                sub.barrier();
                call = "barrier ran";
            } catch (IllegalStateException e) {
                call = e.getMessage();
            }
            String again;
            try {
                sub.close();
                again = "closed twice";
            } catch (IllegalStateException e) {
                again = e.getMessage();
            }
            return call + " | " + again;
        });
        for (int r = 0; r < 2; r++) {
            assertEquals("communicator closed: rank=" + r + ", size=2 | communicator already closed: rank=" + r
                    + ", size=2", results.get(r));
        }
    }

    @Test
    void shouldFailAPeersWaitingCallAndLaterCallsWithTheAbortOfOneRank() {
        org.junit.jupiter.api.Assumptions.assumeTrue(abortReachesPeers(), "abort is local on this backend");
        List<String> results = onEveryRank(2, ctx -> {
            Communicator sub = ctx.communicator().split(0, ctx.rank()).orElseThrow();
            try {
                String waiting = "";
                if (ctx.rank() == 0) {
                    Thread.sleep(300);
                    sub.abort();
                    sub.abort(); // idempotent: the first cause stays
                } else {
                    try {
                        sub.barrier();
                        waiting = "barrier completed | ";
                    } catch (CommunicatorAbortedException e) {
                        waiting = e.getMessage() + " | ";
                    }
                }
                try {
                    sub.barrier();
                    return waiting + "barrier ran";
                } catch (CommunicatorAbortedException e) {
                    return waiting + e.getMessage();
                }
            } finally {
                sub.close();
            }
        });
        String cause = "cause=communicator aborted by rank 0: size=2";
        assertEquals(List.of("communicator aborted: rank=0, size=2, " + cause,
                "communicator aborted: rank=1, size=2, " + cause + " | communicator aborted: rank=1, size=2, " + cause),
                results);
    }

    @Test
    void shouldAbortAnOperationStillInFlightWhenItsRankCloses() {
        List<String> results = onEveryRank(2, ctx -> {
            Communicator sub = ctx.communicator().split(0, ctx.rank()).orElseThrow();
            if (ctx.rank() == 1) {
                sub.close(); // never joins the all-reduce rank 0 starts
                return "closed";
            }
            try (Tensor buf = tensor(ctx, DType.F32, input(DType.F32, 0, 4, 3))) {
                CollectiveHandle handle = sub.allReduceAsync(buf, ReduceOp.SUM);
                sub.close();
                assertTrue(handle.isDone(), "close returned before the operation in flight ended");
                try {
                    handle.await(TimeUnit.SECONDS.toNanos(30));
                    return "completed";
                } catch (CommunicatorAbortedException e) {
                    Throwable root = e;
                    while (root.getCause() != null) {
                        root = root.getCause();
                    }
                    return root.getClass().getSimpleName() + ": " + root.getMessage();
                }
            }
        });
        assertEquals(List.of("CommunicatorAbortedException: communicator closed with pending operations: rank=0",
                "closed"), results);
    }

    @Test
    void shouldTimeOutASendToASilentPeer() {
        Communicator.Context context = defaultContext().timeoutNs(SHORT_TIMEOUT_NS);
        List<RankOutcome<String>> outcomes = onFreshHarness(2, context, ctx -> {
            if (ctx.rank() == 1) {
                return "silent";
            }
            try (Tensor send = zeros(ctx, DType.F32, 4)) {
                ctx.communicator().send(send, 1);
                return "no timeout";
            } catch (CollectiveTimeoutException e) {
                return e.op() + " " + e.missingRanks();
            }
        });
        assertEquals("send [1]", outcomes.get(0).get());
        assertEquals("silent", outcomes.get(1).get());
    }

    /** Rank 0 and rank 1 make different calls; every rank must see the same message. */
    private List<String> mismatch(RankTask<Void> rank0, RankTask<Void> rank1) {
        List<RankOutcome<String>> outcomes = onFreshHarness(2, defaultContext(), ctx -> {
            try {
                (ctx.rank() == 0 ? rank0 : rank1).run(ctx);
                return "no mismatch";
            } catch (CollectiveMismatchException e) {
                return e.getMessage();
            }
        });
        return outcomes.stream().map(RankOutcome::get).toList();
    }

    @Test
    void shouldReportMismatchedCountsWithBothSides() {
        String expected = "mismatched collective: rank 0 called allReduce(count=16, dtype=F32, op=SUM) but rank 1 "
                + "called allReduce(count=8, dtype=F32, op=SUM)";
        assertEquals(List.of(expected, expected), mismatch(
                ctx -> allReduce(ctx, DType.F32, 16, ReduceOp.SUM),
                ctx -> allReduce(ctx, DType.F32, 8, ReduceOp.SUM)));
    }

    @Test
    void shouldReportMismatchedDtypesAndOps() {
        String dtypes = "mismatched collective: rank 0 called allReduce(count=4, dtype=F32, op=SUM) but rank 1 "
                + "called allReduce(count=4, dtype=BF16, op=SUM)";
        assertEquals(List.of(dtypes, dtypes), mismatch(
                ctx -> allReduce(ctx, DType.F32, 4, ReduceOp.SUM),
                ctx -> allReduce(ctx, DType.BF16, 4, ReduceOp.SUM)));
        String ops = "mismatched collective: rank 0 called allReduce(count=4, dtype=I32, op=MAX) but rank 1 "
                + "called allReduce(count=4, dtype=I32, op=MIN)";
        assertEquals(List.of(ops, ops), mismatch(
                ctx -> allReduce(ctx, DType.I32, 4, ReduceOp.MAX),
                ctx -> allReduce(ctx, DType.I32, 4, ReduceOp.MIN)));
    }

    @Test
    void shouldReportMismatchedRootsAndCollectives() {
        String roots = "mismatched collective: rank 0 called broadcast(count=4, dtype=F64, root=0) but rank 1 "
                + "called broadcast(count=4, dtype=F64, root=1)";
        assertEquals(List.of(roots, roots), mismatch(ctx -> broadcast(ctx, 0), ctx -> broadcast(ctx, 1)));
        String kinds = "mismatched collective: rank 0 called allReduce(count=4, dtype=F64, op=SUM) but rank 1 "
                + "called broadcast(count=4, dtype=F64, root=0)";
        assertEquals(List.of(kinds, kinds), mismatch(ctx -> allReduce(ctx, DType.F64, 4, ReduceOp.SUM),
                ctx -> broadcast(ctx, 0)));
    }

    @Test
    void shouldReportMismatchedSendAndRecv() {
        String expected = "mismatched collective: rank 0 called send(count=4, dtype=F32, peer=1) but rank 1 called "
                + "recv(count=8, dtype=F32, peer=0)";
        List<String> results = mismatch(ctx -> {
            try (Tensor t = zeros(ctx, DType.F32, 4)) {
                ctx.communicator().send(t, 1);
            }
            return null;
        }, ctx -> {
            try (Tensor t = zeros(ctx, DType.F32, 8)) {
                ctx.communicator().recv(t, 0);
            }
            return null;
        });
        assertEquals(List.of(expected, expected), results);
    }

    private static Void allReduce(RankContext ctx, DType dtype, long count, ReduceOp op) {
        try (Tensor buf = zeros(ctx, dtype, count)) {
            ctx.communicator().allReduce(buf, op);
        }
        return null;
    }

    private static Void broadcast(RankContext ctx, int root) {
        try (Tensor buf = zeros(ctx, DType.F64, 4)) {
            ctx.communicator().broadcast(buf, root);
        }
        return null;
    }

    // ---------------------------------------------------------------------------------------------------------
    // Invalid arguments: every rank makes the same bad call, which fails locally before any data moves.

    private List<String> argumentErrors(int size, RankTask<Void> call) {
        return onEveryRank(size, ctx -> {
            try {
                call.run(ctx);
                return "no exception";
            } catch (IllegalArgumentException e) {
                return e.getMessage();
            }
        });
    }

    @Test
    void shouldRejectRecvSmallerThanWorldTimesSend() {
        List<String> messages = argumentErrors(2, ctx -> {
            try (Tensor send = zeros(ctx, DType.F32, 1 << 19); Tensor recv = zeros(ctx, DType.F32, 1 << 19)) {
                recv.fill(7);
                try {
                    ctx.communicator().allGather(send, recv);
                } finally {
                    assertEquals(7.0, recv.getDouble(0), "recv untouched");
                    assertEquals(7.0, recv.getDouble((1 << 19) - 1), "recv untouched");
                }
            }
            return null;
        });
        assertEquals(List.of("recv too small: required=4194304, byteSize=2097152",
                "recv too small: required=4194304, byteSize=2097152"), messages);
    }

    @Test
    void shouldRejectWrongSizesDtypesAndRoots() {
        assertEquals("recv too large: required=16, byteSize=32", argumentErrors(2, ctx -> {
            try (Tensor send = zeros(ctx, DType.F32, 2); Tensor recv = zeros(ctx, DType.F32, 8)) {
                ctx.communicator().allGather(send, recv);
            }
            return null;
        }).getFirst());
        assertEquals("send too small: required=24, byteSize=8", argumentErrors(3, ctx -> {
            try (Tensor send = zeros(ctx, DType.F32, 2); Tensor recv = zeros(ctx, DType.F32, 2)) {
                ctx.communicator().reduceScatter(send, recv, ReduceOp.SUM);
            }
            return null;
        }).getFirst());
        assertEquals("dtype mismatch: send=F32, recv=BF16", argumentErrors(2, ctx -> {
            try (Tensor send = zeros(ctx, DType.F32, 2); Tensor recv = zeros(ctx, DType.BF16, 2)) {
                ctx.communicator().allReduce(send, recv, ReduceOp.SUM);
            }
            return null;
        }).getFirst());
        assertEquals("unsupported dtype for reduction: dtype=U8, op=MAX, expected one of [F32, F64, F16, BF16, I32, I64]",
                argumentErrors(2, ctx -> {
                    try (Tensor buf = zeros(ctx, DType.U8, 2)) {
                        ctx.communicator().allReduce(buf, ReduceOp.MAX);
                    }
                    return null;
                }).getFirst());
        assertEquals(List.of("root out of range: root=2, size=2", "root out of range: root=2, size=2"),
                argumentErrors(2, ctx -> {
                    try (Tensor buf = zeros(ctx, DType.F32, 2)) {
                        ctx.communicator().broadcast(buf, 2);
                    }
                    return null;
                }));
        assertEquals("root out of range: root=-1, size=2", argumentErrors(2, ctx -> {
            try (Tensor buf = zeros(ctx, DType.F32, 2)) {
                ctx.communicator().reduce(buf, buf, ReduceOp.SUM, -1);
            }
            return null;
        }).getFirst());
        assertEquals("peer out of range: peer=3, size=2", argumentErrors(2, ctx -> {
            try (Tensor buf = zeros(ctx, DType.F32, 2)) {
                ctx.communicator().send(buf, 3);
            }
            return null;
        }).getFirst());
        assertEquals("allToAll count not divisible by size: count=10, size=3", argumentErrors(3, ctx -> {
            try (Tensor send = zeros(ctx, DType.F32, 10); Tensor recv = zeros(ctx, DType.F32, 10)) {
                ctx.communicator().allToAll(send, recv);
            }
            return null;
        }).getFirst());
    }

    @Test
    void shouldRejectInvalidOverlapsAndNonContiguousTensors() {
        assertEquals(List.of("send overlaps recv but is not this rank's slice: op=allGather, rank=0, offset=8, expected=0",
                "send overlaps recv but is not this rank's slice: op=allGather, rank=1, offset=8, expected=16"),
                argumentErrors(2, ctx -> {
                    try (Tensor recv = zeros(ctx, DType.F32, 8); Tensor send = recv.narrow(0, 2, 4)) {
                        ctx.communicator().allGather(send, recv);
                    }
                    return null;
                }));
        assertEquals("send and recv overlap partially: op=allReduce, offset=4, expected=0 (same memory) or disjoint",
                argumentErrors(2, ctx -> {
                    try (Tensor whole = zeros(ctx, DType.F32, 8); Tensor send = whole.narrow(0, 1, 4);
                         Tensor recv = whole.narrow(0, 0, 4)) {
                        ctx.communicator().allReduce(send, recv, ReduceOp.SUM);
                    }
                    return null;
                }).getFirst());
        assertEquals("send and recv overlap: op=allToAll, in-place allToAll is not supported", argumentErrors(2, ctx -> {
            try (Tensor buf = zeros(ctx, DType.F32, 8)) {
                ctx.communicator().allToAll(buf, buf);
            }
            return null;
        }).getFirst());
        assertEquals("tensor not contiguous: name=send, shape=[4, 2], strides=[4, 1]", argumentErrors(2, ctx -> {
            try (Tensor matrix = Tensor.allocate(ctx.allocator(), DType.F32, Shape.of(4, 4), ctx.device());
                 Tensor send = matrix.narrow(1, 0, 2); Tensor recv = zeros(ctx, DType.F32, 16)) {
                ctx.communicator().allGather(send, recv);
            }
            return null;
        }).getFirst());
    }

    @Test
    void shouldRejectSendToSelfOutsideAGroup() {
        assertEquals(List.of("send to self outside a group: peer=0, rank=0", "send to self outside a group: peer=1, rank=1"),
                argumentErrors(2, ctx -> {
                    try (Tensor buf = zeros(ctx, DType.F32, 2)) {
                        ctx.communicator().send(buf, ctx.rank());
                    }
                    return null;
                }));
    }

    @Test
    void shouldKeepWorkingAfterRejectedArguments() {
        List<byte[]> results = onEveryRank(2, ctx -> {
            try (Tensor buf = tensor(ctx, DType.I32, input(DType.I32, ctx.rank(), 3, 5)); Tensor small = zeros(ctx, DType.I32, 1)) {
                try {
                    ctx.communicator().allGather(buf, small);
                } catch (IllegalArgumentException expected) {
                    assertNotNull(expected.getMessage());
                }
                ctx.communicator().allReduce(buf, ReduceOp.SUM);
                return bytes(buf);
            }
        });
        byte[] expected = reduce(DType.I32, ReduceOp.SUM, inputs(DType.I32, 2, 3, 5), 0, 3);
        assertArrayEquals(expected, results.get(0));
        assertArrayEquals(expected, results.get(1));
    }

    // ---------------------------------------------------------------------------------------------------------
    // Counted bytes.

    /** The operations whose bytes the counters are checked on; F32 throughout. */
    enum CountedOp {
        ALL_GATHER(CollectiveKind.ALL_GATHER, 1000),
        ALL_GATHER_LARGE(CollectiveKind.ALL_GATHER, LARGE_COUNT),
        REDUCE_SCATTER(CollectiveKind.REDUCE_SCATTER, 1000),
        REDUCE_SCATTER_LARGE(CollectiveKind.REDUCE_SCATTER, LARGE_COUNT),
        ALL_REDUCE(CollectiveKind.ALL_REDUCE, 30_000),
        /** 24 bytes: the shm backend's inline path. */
        ALL_REDUCE_TINY(CollectiveKind.ALL_REDUCE, 6),
        /** 4800 bytes: the shm backend's one-round path. */
        ALL_REDUCE_SMALL(CollectiveKind.ALL_REDUCE, 1200),
        BROADCAST(CollectiveKind.BROADCAST, 1000),
        REDUCE(CollectiveKind.REDUCE, 1000),
        ALL_TO_ALL(CollectiveKind.ALL_TO_ALL, 1000),
        ALL_GATHER_V(CollectiveKind.ALL_GATHER_V, 100),
        SEND_RECV(CollectiveKind.SEND, 1000);

        final CollectiveKind kind;
        final long count;

        CountedOp(CollectiveKind kind, long count) {
            this.kind = kind;
            this.count = count;
        }

        /** allGatherv: rank q contributes {@code q * count + 7} elements. */
        long vTotal(int q) {
            return q * count + 7;
        }

        /** {bytesReceived, bytesSent} rank {@code rank} of {@code n} must count, from the op's definition. */
        long[] expected(int rank, int n) {
            long b = count * 4;
            return switch (this) {
                case ALL_GATHER, ALL_GATHER_LARGE, REDUCE_SCATTER, REDUCE_SCATTER_LARGE, ALL_TO_ALL ->
                        new long[] {(n - 1) * b, (n - 1) * b};
                case ALL_REDUCE, ALL_REDUCE_TINY, ALL_REDUCE_SMALL ->
                        new long[] {2 * (n - 1) * b / n, 2 * (n - 1) * b / n};
                case BROADCAST -> rank == n - 1 ? new long[] {0, (n - 1) * b} : new long[] {b, 0};
                case REDUCE -> rank == 0 ? new long[] {(n - 1) * b, 0} : new long[] {0, b};
                case ALL_GATHER_V -> {
                    long others = 0;
                    for (int q = 0; q < n; q++) {
                        others += q == rank ? 0 : vTotal(q) * 4;
                    }
                    yield new long[] {others, (n - 1) * vTotal(rank) * 4};
                }
                case SEND_RECV -> new long[] {b, b};
            };
        }

        boolean reduction() {
            return this == REDUCE_SCATTER || this == REDUCE_SCATTER_LARGE || this == ALL_REDUCE || this == REDUCE
                    || this == ALL_REDUCE_TINY || this == ALL_REDUCE_SMALL;
        }
    }

    /**
     * Bytes each rank counts as received (and sent) for an all-reduce of {@code bytes} on {@code n} ranks that is
     * small enough for the backend's small-message path: by default the reduce-scatter plus all-gather volume,
     * {@code 2(n-1)/n} of the buffer; a backend whose small path reduces the whole buffer on every rank overrides it.
     */
    protected long smallAllReduceBytesCounted(int n, long bytes) {
        return 2 * (n - 1) * bytes / n;
    }

    /** Every counted op on 2, 3 and 4 ranks (the multi-megabyte ones on 4 ranks only in the full matrix). */
    static Stream<Arguments> countedCases() {
        List<Arguments> out = new ArrayList<>();
        for (CountedOp op : CountedOp.values()) {
            for (int ranks : new int[] {2, 3, 4}) {
                boolean tinyOnFour = op == CountedOp.ALL_REDUCE_TINY && ranks == 4; // 6 elements: not divisible by 4
                if (!tinyOnFour && (full() || op.count != LARGE_COUNT || ranks != 4)) {
                    out.add(Arguments.of(op, ranks));
                }
            }
        }
        return out.stream();
    }

    @ParameterizedTest(name = "{0} ranks={1}")
    @MethodSource("countedCases")
    void shouldCountTheBytesEachRankReceivesAndSends(CountedOp op, int size) {
        List<long[]> counted = onEveryRank(size, ctx -> {
            Communicator comm = ctx.communicator();
            int me = ctx.rank();
            int n = ctx.size();
            long count = op.count;
            comm.barrier();
            comm.resetStats();
            comm.barrier();
            switch (op) {
                case ALL_GATHER, ALL_GATHER_LARGE -> {
                    try (Tensor send = tensor(ctx, DType.F32, input(DType.F32, me, count, 3));
                         Tensor recv = zeros(ctx, DType.F32, count * n)) {
                        comm.allGather(send, recv);
                    }
                }
                case REDUCE_SCATTER, REDUCE_SCATTER_LARGE -> {
                    try (Tensor send = tensor(ctx, DType.F32, input(DType.F32, me, count * n, 3));
                         Tensor recv = zeros(ctx, DType.F32, count)) {
                        comm.reduceScatter(send, recv, ReduceOp.SUM);
                    }
                }
                case ALL_REDUCE, ALL_REDUCE_TINY, ALL_REDUCE_SMALL -> {
                    try (Tensor send = tensor(ctx, DType.F32, input(DType.F32, me, count, 3));
                         Tensor recv = zeros(ctx, DType.F32, count)) {
                        comm.allReduce(send, recv, ReduceOp.SUM);
                    }
                }
                case BROADCAST -> {
                    try (Tensor send = tensor(ctx, DType.F32, input(DType.F32, me, count, 3));
                         Tensor recv = zeros(ctx, DType.F32, count)) {
                        comm.broadcast(send, recv, n - 1);
                    }
                }
                case REDUCE -> {
                    try (Tensor send = tensor(ctx, DType.F32, input(DType.F32, me, count, 3));
                         Tensor recv = zeros(ctx, DType.F32, count)) {
                        comm.reduce(send, recv, ReduceOp.SUM, 0);
                    }
                }
                case ALL_TO_ALL -> {
                    try (Tensor send = tensor(ctx, DType.F32, input(DType.F32, me, count * n, 3));
                         Tensor recv = zeros(ctx, DType.F32, count * n)) {
                        comm.allToAll(send, recv);
                    }
                }
                case ALL_GATHER_V -> {
                    long all = 0;
                    for (int q = 0; q < n; q++) {
                        all += op.vTotal(q);
                    }
                    try (Tensor send = tensor(ctx, DType.F32, input(DType.F32, me, op.vTotal(me), 3));
                         Tensor recv = zeros(ctx, DType.F32, all)) {
                        List<List<Tensor>> views = new ArrayList<>();
                        long at = 0;
                        for (int q = 0; q < n; q++) {
                            views.add(List.of(recv.narrow(0, at, op.vTotal(q))));
                            at += op.vTotal(q);
                        }
                        comm.allGatherv(List.of(send), views);
                    }
                }
                case SEND_RECV -> {
                    try (Tensor send = tensor(ctx, DType.F32, input(DType.F32, me, count, 3));
                         Tensor recv = zeros(ctx, DType.F32, count);
                         CollectiveGroup group = comm.group()) {
                        comm.send(send, (me + 1) % n);
                        comm.recv(recv, (me + n - 1) % n);
                    }
                }
            }
            CommunicatorStats stats = comm.stats();
            return new long[] {stats.bytesReceived(), stats.bytesSent(), stats.deviceBytesReceived(),
                    stats.calls(op.kind), stats.calls(CollectiveKind.BARRIER), ctx.device().isHost() ? 0 : 1};
        });
        for (int r = 0; r < size; r++) {
            long[] c = counted.get(r);
            long[] expected = op.expected(r, size);
            if (op == CountedOp.ALL_REDUCE_TINY || op == CountedOp.ALL_REDUCE_SMALL) {
                long small = smallAllReduceBytesCounted(size, op.count * 4);
                expected = new long[] {small, small};
            }
            assertEquals(expected[0], c[0], "bytes received on rank " + r);
            assertEquals(expected[1], c[1], "bytes sent on rank " + r);
            if (!op.reduction()) {
                assertEquals(c[5] == 1 ? expected[0] : 0, c[2], "device bytes received on rank " + r);
            }
            assertEquals(1, c[3], "calls of " + op.kind + " on rank " + r);
            assertEquals(1, c[4], "barrier calls since the reset on rank " + r);
        }
    }
}
