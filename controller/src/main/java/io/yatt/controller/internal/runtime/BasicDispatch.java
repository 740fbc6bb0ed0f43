package io.yatt.controller.internal.runtime;

import io.yatt.controller.Dispatch;
import io.yatt.controller.GroupTopology;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/**
 * The two modes the control plane needs on its own: {@code ONE_TO_ALL} (every worker gets the arguments, the result
 * is the list of per-rank results) and {@code RANK_ZERO} (every worker gets the arguments, the result is rank 0's).
 * The full set of modes is {@code DispatchModes}; this is the control plane's default until one is configured.
 */
public enum BasicDispatch implements Dispatch {
    ONE_TO_ALL {
        @Override
        public Object collect(List<Object> results, GroupTopology topology) {
            return Collections.unmodifiableList(new ArrayList<>(results));
        }
    },
    RANK_ZERO {
        @Override
        public Object collect(List<Object> results, GroupTopology topology) {
            return results.get(0);
        }
    };

    @Override
    public List<Object[]> dispatch(Object[] args, GroupTopology topology) {
        List<Object[]> perWorker = new ArrayList<>(topology.size());
        for (int i = 0; i < topology.size(); i++) {
            perWorker.add(args.clone());
        }
        return perWorker;
    }

    /**
     * The mode named {@code name}.
     *
     * @throws IllegalArgumentException if it is neither ONE_TO_ALL nor RANK_ZERO
     */
    public static Dispatch byName(String name) {
        for (BasicDispatch mode : values()) {
            if (mode.name().equals(name)) {
                return mode;
            }
        }
        throw new IllegalArgumentException("unknown dispatch mode: mode=" + name + ", known=[ONE_TO_ALL, RANK_ZERO]");
    }
}
