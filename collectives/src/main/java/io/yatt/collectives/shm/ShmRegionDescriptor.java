package io.yatt.collectives.shm;

/**
 * Layout of the header at the start of every Yatt shared-memory region (Agrona style: offsets as constants).
 *
 * <pre>
 *   0                   8                  16                 24                 32
 *   +-------------------+--------+---------+------------------+------------------+
 *   | MAGIC  (long)     | VERSION| HDR_LEN | OWNER_PID (long) | REGION_BYTES     |
 *   +-------------------+--------+---------+------------------+------------------+
 *  32 CREATED_EPOCH_MS (long) | 40 RANK (int) | 44 WORLD_SIZE (int) | 48 reserved ... 128
 * 128 ABORT (long, own 128-byte line: 0 = healthy, 1 + rank that aborted first otherwise)
 * 256 end of header; the owner's layout (e.g. {@link ShmCommDescriptor}) starts here
 * </pre>
 * The owner writes MAGIC last (release), so a reader that sees MAGIC sees the whole header.
 */
public final class ShmRegionDescriptor {
    /** "YATTSHM1" little-endian. */
    public static final long MAGIC = 0x314D485354544159L;
    /** Layout version. */
    public static final int VERSION = 1;
    /** Offset of the magic number (long). */
    public static final int MAGIC_OFFSET = 0;
    /** Offset of the layout version (int). */
    public static final int VERSION_OFFSET = 8;
    /** Offset of the header length (int). */
    public static final int HEADER_LENGTH_OFFSET = 12;
    /** Offset of the owner's process id (long); the sweeper removes regions whose owner is dead. */
    public static final int OWNER_PID_OFFSET = 16;
    /** Offset of the total region size in bytes (long). */
    public static final int REGION_BYTES_OFFSET = 24;
    /** Offset of the creation time, epoch milliseconds (long). */
    public static final int CREATED_EPOCH_MS_OFFSET = 32;
    /** Offset of the owner's rank (int). */
    public static final int RANK_OFFSET = 40;
    /** Offset of the world size (int). */
    public static final int WORLD_SIZE_OFFSET = 44;
    /** Offset of the abort word (long) on its own 128-byte line. */
    public static final int ABORT_OFFSET = 128;
    /** Header length in bytes; the owner's layout starts here. */
    public static final int HEADER_LENGTH = 256;
    /** File name prefix of every Yatt region in /dev/shm. */
    public static final String NAME_PREFIX = "yatt-";

    private ShmRegionDescriptor() {
    }
}
