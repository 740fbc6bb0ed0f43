package io.yatt.controller;

import java.util.List;

/**
 * How one call on a worker group is split into per-worker arguments and how the workers' results are folded back
 * into one: verl's dispatch/collect pair as one named concept. Implementations are stateless and thread-safe; the
 * built-in modes are in {@code DispatchModes}, custom ones implement this interface.
 */
public interface Dispatch {

    /** The mode's name as users write it in configs and messages (for example {@code DP_COMPUTE_PROTO}). */
    String name();

    /**
     * The argument lists for each worker of {@code topology}, element {@code i} for worker {@code i}; a {@code null}
     * element means worker {@code i} is not called.
     *
     * @throws IllegalArgumentException if the arguments do not fit the mode (wrong count, a list whose length is not
     *         the worker or DP count), naming the value and what was expected
     */
    List<Object[]> dispatch(Object[] args, GroupTopology topology);

    /**
     * One result from the per-worker results ({@code results.get(i)} from worker {@code i}, {@code null} where the
     * worker was not called), in the shape the caller of the group expects.
     *
     * @throws IllegalArgumentException if the results cannot be collected (missing from a collect rank, wrong type)
     */
    Object collect(List<Object> results, GroupTopology topology);
}
