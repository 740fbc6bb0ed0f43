/** Thin PPO trainer and the {@code yatt} command line. */
module io.yatt.trainer {
    requires io.yatt.ffi;
    requires io.yatt.tensor;
    requires transitive io.yatt.hybrid;
    requires io.yatt.controller;
    requires info.picocli;
    requires com.fasterxml.jackson.databind;
    requires org.yaml.snakeyaml;
    requires org.knowm.xchart;
    requires me.tongfei.progressbar;
    requires java.desktop;
    requires java.management;
    requires jdk.management;
    requires jdk.unsupported; // sun.misc.Signal: yatt train checkpoints and exits 130 on SIGINT

    exports io.yatt.trainer.cli;
    exports io.yatt.trainer.model;
    exports io.yatt.trainer.algo;
    // The custom-task SPI (user reward and cost classes implement its interfaces) and the config it is built from.
    exports io.yatt.trainer.task;
    exports io.yatt.trainer.config;
    uses io.yatt.trainer.task.RewardFunction;
    uses io.yatt.trainer.task.CostFunction;
    opens io.yatt.trainer.cli to info.picocli;
}
