package io.yatt.bench;

import io.yatt.bench.collectives.CollectivesSweepCommand;
import io.yatt.bench.controller.ControlBenchCommand;
import io.yatt.bench.hybrid.ReshardBenchCommand;
import io.yatt.bench.trainer.model.ModelBenchCommand;
import java.util.Arrays;
import java.util.Set;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/**
 * Entry point of {@code benchmarks.jar} and of {@code yatt bench}: named sweeps run as subcommands;
 * anything else is handed to JMH's own command line, so {@code java -jar benchmarks.jar Regex -f 1}
 * works as with any JMH jar.
 */
@Command(
        name = "yatt bench",
        mixinStandardHelpOptions = true,
        description = {
            "Sweeps and benchmarks. Subcommands run sweeps; any other arguments go to JMH",
            "(e.g. 'yatt bench DowncallBenchmark -f 1', 'yatt bench -l' lists the JMH benchmarks)."
        },
        subcommands = {CollectivesSweepCommand.class, ReshardBenchCommand.class, ControlBenchCommand.class,
            ModelBenchCommand.class,
            CommandLine.HelpCommand.class})
public final class BenchMain {
    private static final Set<String> OWN = Set.of("help", "--help", "-h", "--version", "-V");

    private BenchMain() {
    }

    /**
     * Runs a sweep subcommand or JMH.
     *
     * @param args command line arguments
     * @throws Exception when JMH fails to run
     */
    public static void main(String[] args) throws Exception {
        CommandLine cl = commandLine();
        if (args.length > 0 && (OWN.contains(args[0]) || cl.getSubcommands().containsKey(args[0]))) {
            System.exit(cl.execute(args));
        }
        if (args.length == 0) {
            cl.usage(System.out);
            System.out.println();
            System.out.println("JMH benchmarks in this jar:");
            org.openjdk.jmh.Main.main(new String[] {"-l"});
            return;
        }
        org.openjdk.jmh.Main.main(Arrays.copyOf(args, args.length));
    }

    static CommandLine commandLine() {
        CommandLine cl = new CommandLine(new BenchMain());
        cl.setExecutionExceptionHandler((ex, cmd, parsed) -> {
            cmd.getErr().println("yatt bench: " + ex.getMessage());
            return 1;
        });
        return cl;
    }
}
