package io.yatt.collectives;

import java.io.Serializable;

/** What one rank's task produced: a value or a failure, and how long it ran. */
public record RankOutcome<T>(int rank, T value, Throwable failure, long elapsedNs) implements Serializable {

    /** The value, or an AssertionError carrying the failure. */
    public T get() {
        if (failure != null) {
            throw new AssertionError("rank " + rank + " failed: " + failure, failure);
        }
        return value;
    }
}
