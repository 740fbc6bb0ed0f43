/** Thin PPO trainer and the {@code yatt} command line. */
module io.yatt.trainer {
    requires io.yatt.ffi;
    requires io.yatt.tensor;
    requires transitive io.yatt.hybrid;
    requires io.yatt.controller;
    requires info.picocli;
    requires com.fasterxml.jackson.databind;
    requires java.management;
    requires jdk.management;

    exports io.yatt.trainer.cli;
    exports io.yatt.trainer.model;
    exports io.yatt.trainer.algo;
    opens io.yatt.trainer.cli to info.picocli;
}
