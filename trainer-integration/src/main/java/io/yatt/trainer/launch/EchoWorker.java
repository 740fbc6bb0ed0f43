package io.yatt.trainer.launch;

import io.yatt.controller.WorkerMethod;
import java.util.Map;

/** The {@code echo} kind: answers with its rank and pid, or with its argument. Thread-safe (stateless). */
final class EchoWorker {
    private final int rank;

    EchoWorker(int rank) {
        this.rank = rank;
    }

    @WorkerMethod(dispatch = "ONE_TO_ALL")
    Map<String, Object> ping() {
        return Map.of("rank", rank, "pid", ProcessHandle.current().pid());
    }

    @WorkerMethod(dispatch = "ONE_TO_ALL")
    Object echo(Object value) {
        return value;
    }
}
