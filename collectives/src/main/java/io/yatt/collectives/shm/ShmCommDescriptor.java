package io.yatt.collectives.shm;

/**
 * Layout of a shm communicator region after the {@link ShmRegionDescriptor} header: {@link #MAX_CHANNELS} channel
 * blocks (one per communicator this rank belongs to: channel 0 is the world, {@code split} takes the next free id),
 * then the arena (staging buffers and tensors from {@code ShmCommunicator.allocate}). Every line is written only by
 * the region's owner and read by its peers; counters are written with release and read with acquire.
 *
 * <pre>
 * channel block (CHANNEL_FIXED_BYTES + worldSize * P2P_PEER_BYTES):
 *   +0    POST line, parity 0 (LINE bytes)   \ round k uses POST[k &amp; 1]; a rank rewrites it at round k + 2
 *   +128  POST line, parity 1 (LINE bytes)   / only after every peer posted k + 1, so after they read round k
 *   +256  SYNC line: SYNC (long) barrier phase counter; at +64 BELL (int), bumped by the owner after it published a
 *         counter while SLEEPERS was non-zero, the futex word peers sleep on; at +72 SLEEPERS (int), the number of
 *         peers sleeping on BELL (the one word peers write: atomic increments and decrements)
 *   +384  ABORT record (ABORT_BYTES): ABORT (long) 0 = healthy, else 1 + rank of the aborting rank, written last;
 *         the cause: ABORT_KIND (int), ABORT_MISSING_COUNT (int), ABORT_SEQ (long), ABORT_TIMEOUT_NS (long),
 *         ABORT_MISSING (int x MAX_ABORT_MISSING), ABORT_OP (int length + UTF-8), ABORT_MESSAGE (int length + UTF-8)
 *   +1408 per peer p: SEND lines (to p, parity 0 and 1) and ACK line (chunks received from p), LINE bytes each
 *
 * POST line:  0 SEQ (long)  8 OPCODE (int)  12 IDENT (int: dtype, redop, root packed, see ShmChannel.ident)
 *            16 COUNT (long)  24..64 INLINE (40 bytes)
 *            64 (unused, 12 bytes)  76 FLAGS (int)
 *            80 PTR_REGION (int) 84 RES_REGION (int) 88 PTR_OFFSET (long) 96 PTR_STRIDE (long) 104 RES_OFFSET (long)
 * SEND line:  0 SEQ (long)  8 DTYPE (int)  12 FLAGS (int)  16 COUNT (long)  24 PTR_REGION (int)  32 PTR_OFFSET (long)
 *            40 CHUNK_BYTES (long)
 * ACK line:   0 ACK (long) chunks received from the peer; 8 NACK_CHUNK (long) first chunk of a message whose
 *            signature did not match the receive, 16 NACK_COUNT (long), 24 NACK_DTYPE (int) of that receive
 * </pre>
 * The first 64 bytes of a POST line hold the sequence number, the call's whole identity (opcode, count, and
 * dtype, op and root in IDENT) and up to {@link #INLINE_CAPACITY} bytes of data, so a small all-reduce moves one
 * cache line per peer: one release store of SEQ by the writer, one acquire load (spin) by each reader.
 */
public final class ShmCommDescriptor {
    /** Bytes of a line: two cache lines, so the adjacent-line prefetcher does not share lines between writers. */
    public static final int LINE = 128;
    /** Maximum number of communicators (world and splits) a rank can belong to over its life. */
    public static final int MAX_CHANNELS = 64;
    /** Maximum ranks of a shm world. */
    public static final int MAX_RANKS = 256;

    public static final int POST_OFFSET = 0;
    public static final int SYNC_OFFSET = 2 * LINE;
    public static final int ABORT_OFFSET = 3 * LINE;
    /** The futex word of the owner's doorbell (int), in the SYNC line. */
    public static final int BELL_OFFSET = SYNC_OFFSET + 64;
    /** Peers sleeping on the owner's BELL (int), in the SYNC line; written by peers (atomically). */
    public static final int SLEEPERS_OFFSET = SYNC_OFFSET + 72;
    public static final int ABORT_BYTES = 1024;
    public static final int P2P_OFFSET = ABORT_OFFSET + ABORT_BYTES;
    public static final int ABORT_KIND = 8;
    public static final int ABORT_MISSING_COUNT = 12;
    public static final int ABORT_SEQ = 16;
    public static final int ABORT_TIMEOUT_NS = 24;
    public static final int ABORT_MISSING = 32;
    public static final int MAX_ABORT_MISSING = 32;
    public static final int ABORT_OP = ABORT_MISSING + 4 * MAX_ABORT_MISSING;
    public static final int ABORT_OP_MAX_BYTES = 60;
    public static final int ABORT_MESSAGE = ABORT_OP + 4 + ABORT_OP_MAX_BYTES;
    public static final int ABORT_MESSAGE_MAX_BYTES = ABORT_BYTES - ABORT_MESSAGE - 4;
    public static final int ABORT_KIND_TIMEOUT = 1;
    public static final int ABORT_KIND_MISMATCH = 2;
    public static final int ABORT_KIND_DEAD = 3;
    public static final int ABORT_KIND_OTHER = 4;
    public static final int NACK_CHUNK = 8;
    public static final int NACK_COUNT = 16;
    public static final int NACK_DTYPE = 24;
    public static final int CHANNEL_FIXED_BYTES = P2P_OFFSET;
    public static final int P2P_PEER_BYTES = 3 * LINE;
    public static final int P2P_ACK_OFFSET = 2 * LINE;

    public static final int SEQ = 0;
    public static final int OPCODE = 8;
    public static final int IDENT = 12;
    public static final int COUNT = 16;
    public static final int INLINE = 24;
    public static final int INLINE_CAPACITY = 40;
    public static final int FLAGS = 76;
    public static final int PTR_REGION = 80;
    public static final int RES_REGION = 84;
    public static final int PTR_OFFSET = 88;
    public static final int PTR_STRIDE = 96;
    public static final int RES_OFFSET = 104;

    public static final int SEND_SEQ = 0;
    public static final int SEND_DTYPE = 8;
    public static final int SEND_FLAGS = 12;
    public static final int SEND_COUNT = 16;
    public static final int SEND_PTR_REGION = 24;
    public static final int SEND_PTR_OFFSET = 32;
    public static final int SEND_CHUNK_BYTES = 40;

    /** FLAGS bit: this rank's whole input is readable in shared memory (zero-copy for the whole call). */
    public static final int FLAG_WHOLE_INPUT = 1;
    /** FLAGS bit: this rank's whole output is in shared memory (peers may write into it, or read results there). */
    public static final int FLAG_WHOLE_OUTPUT = 2;
    /** FLAGS bit of an allGatherv: this rank found no shared memory to publish its view table (all fall back). */
    public static final int FLAG_NO_ROOM = 4;

    /** Offset of the first channel block from the start of the region. */
    public static final int CHANNELS_OFFSET = ShmRegionDescriptor.HEADER_LENGTH;
    /** Alignment of the arena's start and of every arena allocation. */
    public static final long ARENA_ALIGNMENT = 4096;

    private ShmCommDescriptor() {
    }

    /** Bytes of one channel block for {@code worldSize} ranks. */
    public static long channelBytes(int worldSize) {
        return CHANNEL_FIXED_BYTES + (long) worldSize * P2P_PEER_BYTES;
    }

    /** Offset of channel {@code channel}'s block in a region of a world of {@code worldSize} ranks. */
    public static long channelOffset(int channel, int worldSize) {
        return CHANNELS_OFFSET + channel * channelBytes(worldSize);
    }

    /** Offset of the arena in a region of a world of {@code worldSize} ranks. */
    public static long arenaOffset(int worldSize) {
        long end = channelOffset(MAX_CHANNELS, worldSize);
        return (end + ARENA_ALIGNMENT - 1) / ARENA_ALIGNMENT * ARENA_ALIGNMENT;
    }
}
