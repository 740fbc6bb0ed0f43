package io.yatt.trainer.cli;

import io.yatt.trainer.launch.TrainerWorkers;
import io.yatt.trainer.launch.WorkerJvms;
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

    /**
     * Process entry point. A JVM started by a yatt launcher ({@link WorkerJvms#ENV_SIGINT}{@code =ignore}) ignores
     * SIGINT: its launcher handles Ctrl-C and stops it.
     */
    public static void main(String[] args) {
        if ("ignore".equals(System.getenv(WorkerJvms.ENV_SIGINT))) {
            ignoreSigint();
        }
        System.exit(run(args));
    }

    private static void ignoreSigint() {
        try {
            sun.misc.Signal.handle(new sun.misc.Signal("INT"), sun.misc.SignalHandler.SIG_IGN);
        } catch (IllegalArgumentException e) {
            // no SIGINT on this platform, or the JVM reserved it: nothing to ignore
        }
    }

    static final class Version implements CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() {
            String v = YattCli.class.getPackage().getImplementationVersion();
            return new String[] {"yatt " + (v == null ? "0.1.0-SNAPSHOT" : v)};
        }
    }
}
