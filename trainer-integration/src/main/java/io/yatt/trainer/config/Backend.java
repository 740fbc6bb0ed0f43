package io.yatt.trainer.config;

/** How ranks run: as threads of one JVM ({@code in-process}) or one JVM per rank over shared memory ({@code shm}). */
public enum Backend implements ConfigChoice {
    IN_PROCESS("in-process"),
    SHM("shm");

    private final String configName;

    Backend(String configName) {
        this.configName = configName;
    }

    @Override
    public String configName() {
        return configName;
    }
}
