package io.yatt.trainer.cli;

import io.yatt.trainer.launch.TrainerWorkers;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/**
 * Entry point of the {@code yatt} command line; subcommands do the work.
 *
 * <p>Only this package reads the environment and system properties meant for users; library code
 * gets explicit values. Not thread-safe; one instance per invocation.
 */
@Command(
        name = "yatt",
        mixinStandardHelpOptions = true,
        versionProvider = YattCli.Version.class,
        description = "Yatt: weight resharding, collectives and PPO for RLHF on the JVM.",
        subcommands = {InfoCommand.class, PlanCommand.class, InitModelCommand.class, ScoreCommand.class,
            GenerateCommand.class, SftCommand.class, TrainCommand.class, WorkerCommand.class,
            CommandLine.HelpCommand.class})
public final class YattCli {

    private YattCli() {
    }

    /**
     * Runs the command line and returns its exit code.
     *
     * @param args the arguments after {@code yatt}
     * @return 0 on success, 1 on a runtime error, 2 on a usage error, {@value TrainerWorkers#LOST_WORKER_EXIT} when a
     *         worker was lost
     */
    public static int run(String... args) {
        return commandLine().execute(args);
    }

    /** Builds the configured picocli command line, for tests and embedding. */
    static CommandLine commandLine() {
        CommandLine cl = new CommandLine(new YattCli());
        cl.setExecutionExceptionHandler((ex, cmd, parsed) -> TrainerWorkers.reportLostWorker(ex, cmd.getErr())
                .orElseGet(() -> {
                    cmd.getErr().println("yatt: " + ex.getMessage());
                    return 1;
                }));
        return cl;
    }

    /** Process entry point. */
    public static void main(String[] args) {
        System.exit(run(args));
    }

    static final class Version implements CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() {
            String v = YattCli.class.getPackage().getImplementationVersion();
            return new String[] {"yatt " + (v == null ? "0.1.0-SNAPSHOT" : v)};
        }
    }
}
