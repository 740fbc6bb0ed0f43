package io.yatt.trainer.config;

/**
 * Who starts the worker JVMs of {@code trainer.backend=shm}: {@code yatt train} itself ({@code local}) or the
 * cluster's launcher (torchrun, Slurm or Open MPI), as {@code yatt worker --kind rlhf} processes that find the
 * controller through the rendezvous store ({@code external}).
 */
public enum Launch implements ConfigChoice {
    LOCAL("local"),
    EXTERNAL("external");

    private final String configName;

    Launch(String configName) {
        this.configName = configName;
    }

    @Override
    public String configName() {
        return configName;
    }
}
