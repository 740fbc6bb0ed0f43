package io.yatt.collectives.shm;

import io.yatt.collectives.Communicator;
import io.yatt.collectives.RankContext;
import io.yatt.collectives.RankOutcome;
import io.yatt.collectives.RankTask;
import io.yatt.collectives.ReduceOp;
import io.yatt.collectives.ShmContext;
import io.yatt.tensor.Allocator;
import io.yatt.tensor.DType;
import io.yatt.tensor.Device;
import io.yatt.tensor.Shape;
import io.yatt.tensor.Tensor;

import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.EOFException;
import java.io.FileDescriptor;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.ObjectInputStream;
import java.io.ObjectOutputStream;
import java.io.PrintStream;
import java.util.concurrent.TimeUnit;

/**
 * A rank process for the multi-process tests: builds the shm world communicator from the launcher's environment,
 * then reads serialized {@link RankTask}s from stdin and answers each with a serialized {@link RankOutcome} on
 * stdout (a length-prefixed frame), until stdin closes. Anything the JVM prints goes to stderr. The deadline and
 * debug checks come from {@value #TIMEOUT_PROP} and {@code yatt.debug.checks}.
 */
public final class ShmWorker {
    static final String TIMEOUT_PROP = "yatt.shm.test.timeoutNs";
    static final String LIVENESS_PROP = "yatt.shm.test.livenessNs";
    /** Starts every frame, so the harness can tell a frame from anything else that reached stdout. */
    static final int FRAME_MAGIC = 0x59415446;
    static final int MAX_FRAME_BYTES = 1 << 30;
    static final int FRAME_TASK = 1;
    static final int FRAME_READY = 2;
    static final int FRAME_OUTCOME = 3;
    static final int FRAME_ARMED = 4;
    static final int FRAME_GO = 5;
    static final long WARM_UP_TIMEOUT_NS = TimeUnit.SECONDS.toNanos(60);

    private ShmWorker() {
    }

    public static void main(String[] args) throws IOException {
        DataOutputStream out = new DataOutputStream(new BufferedOutputStream(new FileOutputStream(FileDescriptor.out)));
        System.setOut(new PrintStream(new FileOutputStream(FileDescriptor.err), true));
        DataInputStream in = new DataInputStream(new BufferedInputStream(System.in));
        long timeoutNs = Long.getLong(TIMEOUT_PROP, TimeUnit.SECONDS.toNanos(30));
        ShmContext context = new ShmContext()
            .base(new Communicator.Context().timeoutNs(timeoutNs))
            .arenaBytes(256L << 20)
            .livenessIntervalNs(Long.getLong(LIVENESS_PROP, ShmContext.DEFAULT_LIVENESS_INTERVAL_NS));
        ShmCommunicator comm;
        try {
            comm = ShmCommunicator.fromEnvironment(System.getenv(), context);
            // start-up skew between loaded rank JVMs is no part of any test: warm up under a long deadline
            comm.overrideTimeoutNs(Math.max(timeoutNs, WARM_UP_TIMEOUT_NS));
            warmUp(comm);
            comm.overrideTimeoutNs(timeoutNs);
        } catch (RuntimeException e) {
            e.printStackTrace();
            writeFrame(out, FRAME_READY, serialize(new RankOutcome<>(-1, null, e, 0)));
            System.exit(2);
            return;
        }
        int rank = comm.rank();
        writeFrame(out, FRAME_READY, serialize(new RankOutcome<>(rank, "ready", null, 0)));
        try (Allocator allocator = Allocator.root("rank-" + rank)) {
            RankContext rankContext = new RankContext() {
                @Override
                public Communicator communicator() {
                    return comm;
                }

                @Override
                public Allocator allocator() {
                    return allocator;
                }

                @Override
                public Device device() {
                    return Device.host();
                }
            };
            while (true) {
                Frame frame;
                try {
                    frame = readFrame(in);
                } catch (EOFException e) {
                    break;
                }
                if (frame.type() != FRAME_TASK) {
                    throw new IOException("unexpected frame: type=" + frame.type() + ", expected " + FRAME_TASK);
                }
                byte[] payload = frame.payload();
                RankTask<Object> task = null;
                Throwable loadFailure = null;
                try {
                    @SuppressWarnings("unchecked")
                    RankTask<Object> t = (RankTask<Object>) deserialize(payload);
                    task = t;
                } catch (Throwable t) {
                    loadFailure = t;
                }
                // every rank has its task in hand: start together (as threads of one JVM would)
                writeFrame(out, FRAME_ARMED, new byte[0]);
                int go = readFrame(in).type();
                if (go != FRAME_GO) {
                    throw new IOException("unexpected frame: type=" + go + ", expected " + FRAME_GO);
                }
                long start = System.nanoTime();
                RankOutcome<Object> outcome;
                try {
                    if (loadFailure != null) {
                        throw loadFailure;
                    }
                    outcome = new RankOutcome<>(rank, task.run(rankContext), null, System.nanoTime() - start);
                } catch (Throwable t) {
                    outcome = new RankOutcome<>(rank, null, t, System.nanoTime() - start);
                }
                writeFrame(out, FRAME_OUTCOME, serialize(outcome));
            }
        }
        try {
            comm.close();
        } catch (RuntimeException ignored) {
            // exiting anyway
        }
        System.exit(0);
    }

    /** Loads the classes every task uses, so the first task's ranks do not drift apart by class loading. */
    private static void warmUp(ShmCommunicator comm) {
        try (Allocator allocator = Allocator.root("warm-up");
             Tensor t = Tensor.allocate(allocator, DType.F32, Shape.of(16), Device.host())) {
            t.fill(1);
            comm.allReduce(t, ReduceOp.SUM);
            comm.barrier();
        }
    }

    /** One message between the harness and a worker. */
    record Frame(int type, byte[] payload) {
    }

    static void writeFrame(DataOutputStream out, int type, byte[] payload) throws IOException {
        out.writeInt(FRAME_MAGIC);
        out.writeInt(type);
        out.writeInt(payload.length);
        out.write(payload);
        out.flush();
    }

    /** Reads the frame that must come next (the harness writes nothing else to a worker's stdin). */
    static Frame readFrame(DataInputStream in) throws IOException {
        int magic = in.readInt();
        if (magic != FRAME_MAGIC) {
            throw new IOException("not a frame: magic=0x" + Integer.toHexString(magic) + ", expected 0x"
                + Integer.toHexString(FRAME_MAGIC));
        }
        return readFrameBody(in);
    }

    /** The type, length and payload that follow a frame's magic. */
    static Frame readFrameBody(DataInputStream in) throws IOException {
        int type = in.readInt();
        int length = in.readInt();
        if (type < FRAME_TASK || type > FRAME_GO || length < 0 || length > MAX_FRAME_BYTES) {
            throw new IOException("corrupt frame: type=" + type + ", length=" + length + ", expected a type in ["
                + FRAME_TASK + ", " + FRAME_GO + "] and a length in [0, " + MAX_FRAME_BYTES + "]");
        }
        byte[] payload = new byte[length];
        in.readFully(payload);
        return new Frame(type, payload);
    }

    static byte[] serialize(Object value) {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (ObjectOutputStream oos = new ObjectOutputStream(bytes)) {
            oos.writeObject(value);
        } catch (IOException e) {
            if (value instanceof RankOutcome<?> o) {
                Throwable f = o.failure() != null ? o.failure()
                    : new IllegalStateException("result not serializable: " + e);
                RuntimeException copy = new RuntimeException(f.getClass().getName() + ": " + f.getMessage());
                copy.setStackTrace(f.getStackTrace());
                return serialize(new RankOutcome<>(o.rank(), null, copy, o.elapsedNs()));
            }
            throw new IllegalStateException("not serializable: " + value.getClass(), e);
        }
        return bytes.toByteArray();
    }

    static Object deserialize(byte[] payload) throws IOException, ClassNotFoundException {
        try (ObjectInputStream ois = new ObjectInputStream(new ByteArrayInputStream(payload))) {
            return ois.readObject();
        }
    }
}
