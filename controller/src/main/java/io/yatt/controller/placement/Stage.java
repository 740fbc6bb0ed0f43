package io.yatt.controller.placement;

import java.util.List;
import java.util.Objects;

/**
 * One stage of an RLHF iteration: its tasks start when the previous stage has finished. Tasks of models on one
 * colocated set run one after another; tasks on different sets run at the same time.
 *
 * @param name {@code generation}, {@code preparation} or {@code training}
 * @param tasks the stage's tasks, in dataflow order (a task may repeat, e.g. ReMax's second generation)
 */
public record Stage(String name, List<Task> tasks) {

    /** Copies the task list. */
    public Stage {
        Objects.requireNonNull(name, "name");
        tasks = List.copyOf(tasks);
    }
}
