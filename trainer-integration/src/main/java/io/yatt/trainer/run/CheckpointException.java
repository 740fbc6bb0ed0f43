package io.yatt.trainer.run;

/**
 * A checkpoint that cannot be used: missing, incomplete, corrupt or written by a run that does not match this one.
 * The message names the folder and what is wrong, e.g.
 * {@code checkpoint file corrupt: path=runs/a/checkpoints/global_step_20, file=actor/model.safetensors, ...}.
 */
public final class CheckpointException extends RuntimeException {

    private static final long serialVersionUID = 1L;

    CheckpointException(String message) {
        super(message);
    }

    CheckpointException(String message, Throwable cause) {
        super(message, cause);
    }
}
