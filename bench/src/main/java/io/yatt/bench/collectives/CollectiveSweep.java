package io.yatt.bench.collectives;

import io.yatt.collectives.Communicator;
import io.yatt.collectives.ReduceOp;
import io.yatt.collectives.shm.ShmCommunicator;
import io.yatt.tensor.Allocator;
import io.yatt.tensor.DType;
import io.yatt.tensor.Device;
import io.yatt.tensor.Shape;
import io.yatt.tensor.Tensor;

import java.io.PrintStream;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;

/**
 * One rank's part of an nccl-tests style sweep over a {@link Communicator}: for every op and size, out of place then
 * in place, warm up, pick an iteration count from a timed trial (calls doubling until the slowest rank took
 * {@link #TRIAL_SECONDS}), time {@value #BATCHES} batches (each batch's time = the slowest rank's, via an all-reduce
 * MAX), report the median batch (one preempted batch cannot move a point; {@code collbench.c} does the same), then
 * check the result of one fresh call and count wrong elements over all ranks. Rank 0 prints. Buffers are allocated
 * once at the largest size (in the communicator's shared arena when it offers one and {@code sharedBuffers}) and
 * viewed for smaller sizes. Confined to the rank's thread.
 */
final class CollectiveSweep {
    static final int BATCHES = 5;
    private static final double TARGET_SECONDS = 0.2;
    /**
     * The trial that sizes the batches doubles its calls until the slowest rank took this long: one call (as before)
     * let a single disturbed call shrink the batches to a few milliseconds, where one time slice lost doubles a batch.
     */
    static final double TRIAL_SECONDS = 0.02;
    /** Most timed calls per point (collbench caps its own at the same count). */
    static final int MAX_ITERS = 20_000;
    /** Warm-up all-reduces at the smallest size (C2 compiles after about 15000 invocations). */
    static final int WARMUP_SMALL_CALLS = 20_000;
    /** Calls per warm-up batch: warm-up runs the timed loop itself, so it is compiled before it is timed. */
    static final int WARMUP_BATCH_CALLS = 100;
    /** Pause after warm-up so queued JIT compilations finish before timing. */
    static final long WARMUP_PAUSE_MS = 200;
    /** What every element a checked call must write holds before it (ranks contribute 1 and up). */
    static final int SENTINEL = -1;

    /** What to sweep. */
    record Options(List<SweepOp> ops, long minBytes, long maxBytes, int factor, DType dtype, ReduceOp redop, int root,
                   int iters, int warmup, boolean check, boolean json, boolean sharedBuffers) {
    }

    /**
     * One printed row half; {@code timeUs} is the median of {@code batchUs} (each batch's slowest rank, per call), and
     * {@code othersPct} the share of all CPUs other processes took during the batches ({@link CpuShare}; NaN unknown).
     */
    record Result(SweepOp op, long size, long count, DType type, ReduceOp redop, int root, boolean inPlace,
                  double timeUs, double algbw, double busbw, long wrong, double othersPct, List<Double> batchUs) {
    }

    private final Communicator comm;
    private final Options options;
    private final Allocator allocator;
    private final PrintStream out;
    private final List<Tensor> shared = new ArrayList<>();
    private final Device device;
    private final Tensor scalar;
    private final Tensor wrongCount;

    CollectiveSweep(Communicator comm, Options options, PrintStream out) {
        this(comm, options, out, Device.host());
    }

    /** A sweep whose buffers (and the timing/check scalars) live on {@code device}, as GPU backends need. */
    CollectiveSweep(Communicator comm, Options options, PrintStream out, Device device) {
        this.comm = comm;
        this.options = options;
        this.out = out;
        this.device = device;
        this.allocator = Allocator.root("sweep-rank-" + comm.rank());
        this.scalar = Tensor.allocate(allocator, DType.F64, Shape.of(1), device);
        this.wrongCount = Tensor.allocate(allocator, DType.I64, Shape.of(1), device);
    }

    private Tensor buffer(long count) {
        if (options.sharedBuffers() && comm instanceof ShmCommunicator shm) {
            Tensor t = shm.allocate(options.dtype(), Shape.of(Math.max(1, count)));
            shared.add(t);
            return t;
        }
        return Tensor.allocate(allocator, options.dtype(), Shape.of(Math.max(1, count)), device);
    }

    /** Runs every op; returns the rows rank 0 printed (empty on other ranks). */
    List<Result> run() {
        List<Result> results = new ArrayList<>();
        int n = comm.size();
        int es = options.dtype().byteSize();
        if (options.warmup() > 0) {
            warmUp();
        }
        if (comm.rank() == 0) {
            header();
        }
        for (SweepOp op : options.ops()) {
            long maxCount = options.maxBytes() / es;
            Tensor a = buffer(maxCount);
            Tensor b = buffer(maxCount);
            try {
                for (long size = options.minBytes(); size <= options.maxBytes(); size *= options.factor()) {
                    long unit = (long) n * es;
                    long s = size - size % unit;
                    if (s == 0) {
                        s = op == SweepOp.ALL_REDUCE || op == SweepOp.BROADCAST ? size - size % es : unit;
                    }
                    Result oop = point(op, a, b, s, false);
                    Result ip = point(op, a, b, s, true);
                    if (comm.rank() == 0) {
                        print(oop, ip);
                        results.add(oop);
                        results.add(ip);
                    }
                    if (options.factor() <= 1) {
                        break;
                    }
                }
            } finally {
                freeShared();
                a.close();
                b.close();
            }
        }
        return results;
    }

    /**
     * Runs every op on small buffers so the JIT is done before anything is timed: {@value #WARMUP_SMALL_CALLS}
     * all-reduces at 8 bytes per rank (past C2's thresholds: the latency path is compiled), 5000 calls of the other
     * ops there, 2000 at up to 64 KiB and 200 at up to 1 MiB (multi-block kernels, memcpy copies), then
     * a pause for compilations still queued: a rank pinned to one core shares it with its JIT threads.
     */
    private void warmUp() {
        int n = comm.size();
        int es = options.dtype().byteSize();
        long smallest = (8L * n + es - 1) / es; // the 8-bytes-per-rank warm-up call below must fit
        long count = Math.max(smallest, Math.min(options.maxBytes(), 1L << 20) / es);
        count += (n - count % n) % n;
        Tensor a = buffer(count);
        Tensor b = buffer(count);
        try {
            for (SweepOp op : options.ops()) {
                for (boolean inPlace : new boolean[] {false, true}) {
                    if (inPlace && op == SweepOp.ALL_TO_ALL) {
                        continue;
                    }
                    long mid = Math.min(64L << 10, count * es);
                    for (long bytes : new long[] {8L * n, mid, count * es}) {
                        Tensor[] v = views(op, a, b, bytes - bytes % ((long) comm.size() * options.dtype().byteSize()),
                            inPlace);
                        int calls = bytes == 8L * n ? (op == SweepOp.ALL_REDUCE ? WARMUP_SMALL_CALLS : 5000)
                            : bytes == mid ? 2000 : 200;
                        for (int i = 0; i < calls; i += WARMUP_BATCH_CALLS) {
                            maxOverRanks(timedBatch(op, v[0], v[1], WARMUP_BATCH_CALLS)); // what point() runs
                            comm.allReduce(wrongCount, ReduceOp.SUM); // and its check (I64): no deopt later
                        }
                    }
                }
            }
            comm.barrier();
            Thread.sleep(WARMUP_PAUSE_MS);
            comm.barrier();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("sweep interrupted during warm-up: rank=" + comm.rank(), e);
        } finally {
            freeShared();
            a.close();
            b.close();
        }
    }

    private void freeShared() {
        if (comm instanceof ShmCommunicator shm) {
            for (Tensor t : shared) {
                shm.free(t);
            }
        }
        shared.clear();
    }

    void close() {
        scalar.close();
        wrongCount.close();
        allocator.close();
    }

    /** The send and recv views of one call of {@code bytes} (full buffer, nccl-tests convention). */
    private Tensor[] views(SweepOp op, Tensor a, Tensor b, long bytes, boolean inPlace) {
        int n = comm.size();
        long count = bytes / options.dtype().byteSize();
        long chunk = count / n;
        int r = comm.rank();
        return switch (op) {
            case ALL_GATHER -> {
                Tensor recv = b.narrow(0, 0, count);
                yield new Tensor[] {inPlace ? recv.narrow(0, r * chunk, chunk) : a.narrow(0, 0, chunk), recv};
            }
            case REDUCE_SCATTER -> {
                Tensor send = a.narrow(0, 0, count);
                yield new Tensor[] {send, inPlace ? send.narrow(0, r * chunk, chunk) : b.narrow(0, 0, chunk)};
            }
            case ALL_REDUCE, BROADCAST, REDUCE -> {
                Tensor send = a.narrow(0, 0, count);
                yield new Tensor[] {send, inPlace ? send : b.narrow(0, 0, count)};
            }
            case ALL_TO_ALL -> new Tensor[] {a.narrow(0, 0, count), b.narrow(0, 0, count)};
        };
    }

    private void call(SweepOp op, Tensor send, Tensor recv) {
        switch (op) {
            case ALL_GATHER -> comm.allGather(send, recv);
            case REDUCE_SCATTER -> comm.reduceScatter(send, recv, options.redop());
            case ALL_REDUCE -> comm.allReduce(send, recv, options.redop());
            case BROADCAST -> comm.broadcast(send, recv, options.root());
            case REDUCE -> comm.reduce(send, recv, options.redop(), options.root());
            case ALL_TO_ALL -> comm.allToAll(send, recv);
        }
    }

    private double maxOverRanks(double value) {
        scalar.setDouble(value, 0);
        comm.allReduce(scalar, ReduceOp.MAX);
        return scalar.getDouble(0);
    }

    /**
     * Seconds per call of {@code calls} back-to-back calls after a barrier. A method of its own, run by the warm-up
     * too: an OSR or C2 compilation of the timed loop (or a deoptimization at the first F64 all-reduce of
     * {@link #maxOverRanks}) would otherwise land in a timed batch, on the core the pinned rank shares with its JIT.
     */
    private double timedBatch(SweepOp op, Tensor send, Tensor recv, int calls) {
        comm.barrier();
        long t0 = System.nanoTime();
        for (int i = 0; i < calls; i++) {
            call(op, send, recv);
        }
        return (System.nanoTime() - t0) / 1e9 / calls;
    }

    private Result point(SweepOp op, Tensor a, Tensor b, long bytes, boolean inPlace) {
        if (inPlace && op == SweepOp.ALL_TO_ALL) {
            return new Result(op, bytes, bytes / options.dtype().byteSize(), options.dtype(), options.redop(),
                options.root(), true, Double.NaN, Double.NaN, Double.NaN, -1, Double.NaN, List.of());
        }
        Tensor[] v = views(op, a, b, bytes, inPlace);
        Tensor send = v[0];
        Tensor recv = v[1];
        fill(op, send, recv, inPlace);
        int warm = bytes >= (16L << 20) ? Math.min(1, options.warmup()) : options.warmup();
        for (int i = 0; i < warm; i++) {
            call(op, send, recv);
        }
        int iters = options.iters() > 0 ? options.iters() : iterations(op, send, recv);
        int batches = Math.min(BATCHES, iters);
        int per = iters / batches;
        double[] batchSeconds = new double[batches];
        List<Double> batchUs = new ArrayList<>(batches);
        long[] machineBefore = comm.rank() == 0 ? CpuShare.machine() : null;
        long cpuBefore = CpuShare.processCpuNs();
        for (int batch = 0; batch < batches; batch++) {
            batchSeconds[batch] = maxOverRanks(timedBatch(op, send, recv, per));
            batchUs.add(batchSeconds[batch] * 1e6);
        }
        double othersPct = othersPercent(machineBefore, cpuBefore);
        double seconds = median(batchSeconds);
        long wrong = 0;
        if (options.check()) {
            fill(op, send, recv, inPlace);
            call(op, send, recv);
            wrongCount.setDouble(countWrong(op, send, recv), 0);
            comm.allReduce(wrongCount, ReduceOp.SUM);
            wrong = (long) wrongCount.getDouble(0);
        }
        double algbw = bytes / seconds / 1e9;
        return new Result(op, bytes, bytes / options.dtype().byteSize(), options.dtype(),
            op.reduces() ? options.redop() : null, op.rooted() ? options.root() : -1, inPlace, seconds * 1e6, algbw,
            algbw * op.busFactor(comm.size()), wrong, othersPct, List.copyOf(batchUs));
    }

    /**
     * Rank 0's view of the CPU share other processes took since {@code machineBefore}: every rank adds the CPU time
     * its process used since {@code cpuBefore} (one process per rank on shm; threads of one process otherwise, which
     * rank 0 counts once), summed in microseconds through the I64 all-reduce the check uses (warm already).
     */
    private double othersPercent(long[] machineBefore, long cpuBefore) {
        long cpuAfter = CpuShare.processCpuNs();
        boolean ownProcess = comm instanceof ShmCommunicator || comm.rank() == 0;
        boolean known = cpuBefore >= 0 && cpuAfter >= 0;
        wrongCount.setDouble(!ownProcess ? 0 : known ? (cpuAfter - cpuBefore) / 1000 : -1e15, 0);
        comm.allReduce(wrongCount, ReduceOp.SUM);
        double ourCpuNs = wrongCount.getDouble(0) * 1000;
        return comm.rank() == 0 ? CpuShare.othersPercent(machineBefore, CpuShare.machine(), ourCpuNs) : Double.NaN;
    }

    /**
     * Timed calls for about {@code TARGET_SECONDS} at this point: a trial batch of 1, 2, 4, ... calls (the same on
     * every rank, since each step's time is the slowest rank's) until it took {@link #TRIAL_SECONDS}.
     */
    private int iterations(SweepOp op, Tensor send, Tensor recv) {
        for (int calls = 1; ; calls *= 2) {
            double perCall = maxOverRanks(timedBatch(op, send, recv, calls));
            if (perCall * calls >= TRIAL_SECONDS || calls >= MAX_ITERS) {
                return (int) Math.max(BATCHES, Math.min(MAX_ITERS, TARGET_SECONDS / Math.max(perCall, 1e-9)));
            }
        }
    }

    /**
     * The median of {@code values} (the mean of the two middle ones for an even count).
     *
     * @throws IllegalArgumentException if {@code values} is empty
     */
    static double median(double[] values) {
        if (values.length == 0) {
            throw new IllegalArgumentException("median of no values: length=0, expected at least 1");
        }
        double[] sorted = values.clone();
        Arrays.sort(sorted);
        int mid = sorted.length / 2;
        return sorted.length % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
    }

    /**
     * Rank r contributes r + 1 everywhere (all-gather: in its chunk); everything else a call must write starts at
     * {@value #SENTINEL}, a value no rank contributes: the receive buffer first (in place, the send part is then
     * filled over it), so an in-place all-gather whose peers' chunks do not arrive shows them as wrong even when
     * the buffer held the right answer from the call before.
     */
    private void fill(SweepOp op, Tensor send, Tensor recv, boolean inPlace) {
        int r = comm.rank();
        recv.fill(SENTINEL);
        if (op == SweepOp.BROADCAST && r != options.root()) {
            send.fill(SENTINEL);
            return;
        }
        if (op == SweepOp.ALL_TO_ALL) {
            long chunk = send.numel() / comm.size();
            for (int j = 0; j < comm.size() && chunk > 0; j++) {
                send.narrow(0, j * chunk, chunk).fill(r * 16 + j + 1);
            }
            return;
        }
        send.fill(r + 1);
    }

    private long countWrong(SweepOp op, Tensor send, Tensor recv) {
        int n = comm.size();
        int r = comm.rank();
        double sum = n * (n + 1) / 2.0;
        ReduceOp red = options.redop();
        double reduced = switch (red) {
            case SUM -> sum;
            case AVG -> sum / n;
            case MAX -> n;
            case MIN -> 1;
            case PROD -> {
                double p = 1;
                for (int i = 1; i <= n; i++) {
                    p *= i;
                }
                yield p;
            }
        };
        return switch (op) {
            case ALL_GATHER -> {
                long chunk = recv.numel() / n;
                long bad = 0;
                for (int j = 0; j < n && chunk > 0; j++) {
                    bad += countNot(recv.narrow(0, j * chunk, chunk), j + 1);
                }
                yield bad;
            }
            case REDUCE_SCATTER, ALL_REDUCE -> countNot(recv, reduced);
            case REDUCE -> r == options.root() ? countNot(recv, reduced) : 0;
            case BROADCAST -> countNot(recv, options.root() + 1);
            case ALL_TO_ALL -> {
                long chunk = recv.numel() / n;
                long bad = 0;
                for (int j = 0; j < n && chunk > 0; j++) {
                    bad += countNot(recv.narrow(0, j * chunk, chunk), j * 16 + r + 1);
                }
                yield bad;
            }
        };
    }

    private long countNot(Tensor result, double expected) {
        if (!result.device().isHost()) {
            try (Tensor host = result.to(Device.host(), allocator)) {
                return countNot(host, expected);
            }
        }
        Tensor t = result;
        long bad = 0;
        long n = t.numel();
        for (long i = 0; i < n; i++) {
            if (t.getDouble(i) != expected) {
                bad++;
            }
        }
        return bad;
    }

    private void header() {
        if (options.json()) {
            return;
        }
        String buffers = options.sharedBuffers() && comm instanceof ShmCommunicator ? "shm-arena" : "heap";
        out.printf(Locale.ROOT, "# yatt collectives sweep: nranks=%d, dtype=%s, buffers=%s, time=median of %d batches%n",
            comm.size(), options.dtype(), buffers, BATCHES);
        out.printf(Locale.ROOT, "#%62s%37s%n", "out-of-place", "in-place");
        out.printf(Locale.ROOT, "# %10s %12s %6s %6s %6s %10s %8s %8s %6s %10s %8s %8s %6s%n", "size", "count", "type",
            "redop", "root", "time", "algbw", "busbw", "#wrong", "time", "algbw", "busbw", "#wrong");
        out.printf(Locale.ROOT, "# %10s %12s %6s %6s %6s %10s %8s %8s %6s %10s %8s %8s %6s%n", "(B)", "(elements)", "",
            "", "", "(us)", "(GB/s)", "(GB/s)", "", "(us)", "(GB/s)", "(GB/s)", "");
    }

    private void print(Result oop, Result ip) {
        if (options.json()) {
            out.println(json(oop));
            out.println(json(ip));
            out.flush();
            return;
        }
        out.printf(Locale.ROOT, "  %10d %12d %6s %6s %6d %s %s%n", oop.size(), oop.count(), oop.type().name().toLowerCase(
            Locale.ROOT), oop.redop() == null ? "none" : oop.redop().shortName(), oop.root(), half(oop), half(ip));
        out.flush();
    }

    private static String half(Result r) {
        if (Double.isNaN(r.timeUs())) {
            return String.format(Locale.ROOT, "%10s %8s %8s %6s", "n/a", "n/a", "n/a", "n/a");
        }
        return String.format(Locale.ROOT, "%10.1f %8.2f %8.2f %6s", r.timeUs(), r.algbw(), r.busbw(),
            r.wrong() < 0 ? "N/A" : Long.toString(r.wrong()));
    }

    static String json(Result r) {
        return String.format(Locale.ROOT, "{\"op\":\"%s\",\"size\":%d,\"count\":%d,\"type\":\"%s\",\"redop\":%s,"
                + "\"root\":%d,\"inPlace\":%b,\"timeUs\":%s,\"algbw\":%s,\"busbw\":%s,\"wrong\":%d,\"othersPct\":%s,"
                + "\"batchUs\":[%s]}",
            r.op().cliName(), r.size(), r.count(), r.type().name().toLowerCase(Locale.ROOT),
            r.redop() == null ? "null" : "\"" + r.redop().shortName() + "\"", r.root(), r.inPlace(), num(r.timeUs()),
            num(r.algbw()), num(r.busbw()), r.wrong(), num(r.othersPct()),
            String.join(",", r.batchUs().stream().map(CollectiveSweep::num).toList()));
    }

    private static String num(double v) {
        return Double.isNaN(v) ? "null" : String.format(Locale.ROOT, "%.3f", v);
    }
}
