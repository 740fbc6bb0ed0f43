package io.yatt.trainer.launch;

/**
 * A JVM of the run that {@code yatt train} started itself exited with an error while the run needed it, and no
 * controller of this process could name it as lost (a worker of another controller process): the message names the
 * JVM, its pid, its exit code and the tail of its standard error. {@code yatt} reports it as a lost worker (exit code
 * {@value TrainerWorkers#LOST_WORKER_EXIT}, resumable). Immutable.
 */
public final class JvmExitedException extends RuntimeException {

    private static final long serialVersionUID = 1L;

    private final long pid;

    /** The exit of process {@code pid}, described by {@code message}. */
    public JvmExitedException(String message, long pid) {
        super(message);
        this.pid = pid;
    }

    /** The process that exited. */
    public long pid() {
        return pid;
    }
}
