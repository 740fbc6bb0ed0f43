package io.yatt.hybrid;

/**
 * A weight sync was refused: the rollout ranks keep their current weights and version (nothing is applied in
 * part). Every rank of the sync throws: the rank that found the problem with the detailed {@link #reason()}, the
 * others with {@link Reason#PEER_FAILED} naming the failed ranks. The communicator stays usable; a later sync with
 * a newer version can succeed. Communication failures (timeouts, aborts) are not wrapped: they surface as
 * {@link io.yatt.collectives.CollectiveException}.
 */
public final class WeightSyncException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    /** Why a sync was refused; {@link #code()} is what a rank reports to its peers. */
    public enum Reason {
        /** The version is not newer than the receiver's: {@code stale weight version: received=3, current=5}. */
        STALE_VERSION(1),
        /** The manifest's names, dtypes or shapes differ from what the rollout rank holds. */
        MANIFEST_MISMATCH(2),
        /** The manifest bytes fail their own checksum or are malformed. */
        MANIFEST_CORRUPT(3),
        /** A tensor's bytes do not match the sender's checksum. */
        CHECKSUM_MISMATCH(4),
        /** The sending trainer rank could not build the manifest (for example a tensor not on the host). */
        SENDER_FAILED(5),
        /** Another rank of the sync failed; this rank was fine. */
        PEER_FAILED(6);

        private final int code;

        Reason(int code) {
            this.code = code;
        }

        /** The non-zero status code exchanged between ranks. */
        public int code() {
            return code;
        }

        /**
         * The reason of a status code.
         *
         * @throws IllegalArgumentException for an unknown code
         */
        public static Reason of(int code) {
            for (Reason reason : values()) {
                if (reason.code == code) {
                    return reason;
                }
            }
            throw new IllegalArgumentException("unknown weight sync status: code=" + code);
        }
    }

    private final Reason reason;
    private final long version;

    /** A refusal of the sync of {@code version} for {@code reason}. */
    public WeightSyncException(Reason reason, long version, String message) {
        super(message);
        this.reason = reason;
        this.version = version;
    }

    /** A refusal of the sync of {@code version} for {@code reason}, caused by {@code cause}. */
    public WeightSyncException(Reason reason, long version, String message, Throwable cause) {
        super(message, cause);
        this.reason = reason;
        this.version = version;
    }

    /** Why the sync was refused. */
    public Reason reason() {
        return reason;
    }

    /** The version of the refused sync ({@code -1} when it never became known to this rank). */
    public long version() {
        return version;
    }
}
