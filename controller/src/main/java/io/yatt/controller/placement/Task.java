package io.yatt.controller.placement;

import java.util.Objects;

/**
 * One unit of work of one model in one stage of the dataflow.
 *
 * @param role the model
 * @param kind what it does
 */
public record Task(Role role, TaskKind kind) {

    /**
     * @throws IllegalArgumentException if the role cannot do the task (only the actor generates; only the actor and
     *         the critic train)
     */
    public Task {
        Objects.requireNonNull(role, "role");
        Objects.requireNonNull(kind, "kind");
        if ((kind == TaskKind.GENERATE && role != Role.ACTOR) || (kind == TaskKind.TRAIN && !role.isTrained())) {
            throw new IllegalArgumentException("role cannot do task: role=" + role.cliName() + ", kind=" + kind);
        }
    }
}
