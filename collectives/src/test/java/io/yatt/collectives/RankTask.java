package io.yatt.collectives;

import java.io.Serializable;

/**
 * Work one rank does in a conformance test. Serializable so that a multi-process harness can ship it to the rank's
 * JVM: capture only serializable values (never the test instance) and return a serializable result.
 */
@FunctionalInterface
public interface RankTask<T> extends Serializable {

    /** Runs on rank {@code context.rank()}. */
    T run(RankContext context) throws Exception;
}
