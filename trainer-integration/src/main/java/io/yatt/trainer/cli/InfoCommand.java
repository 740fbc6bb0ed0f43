package io.yatt.trainer.cli;

import java.io.PrintWriter;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/** {@code yatt info}: what this machine offers Yatt, and what is missing and why. */
@Command(name = "info", mixinStandardHelpOptions = true,
        description = "Report JDK, OS, cores, memory, CUDA runtime/driver/devices, NCCL and BLAS, "
                + "or what was searched for whatever is missing.")
final class InfoCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Option(names = "--json", description = "Print one JSON object instead of text.")
    boolean json;

    @Override
    public Integer call() throws Exception {
        MachineReport report = MachineReport.collect();
        PrintWriter out = spec.commandLine().getOut();
        out.print(json ? report.toJson() : report.toText());
        out.flush();
        return 0;
    }
}
