package io.yatt.bench.controller;

import io.yatt.controller.Worker;
import io.yatt.controller.WorkerMethods;
import io.yatt.tensor.Allocator;
import java.lang.invoke.MethodHandles;
import java.util.List;

/**
 * A worker JVM of the step part of {@code yatt bench control}, started by its controller's
 * {@link io.yatt.controller.WorkerProcesses}: serves {@link StepWorker} under the role {@code step}. Argument: the
 * bytes per sample.
 */
public final class StepWorkerMain {

    private StepWorkerMain() {
    }

    /**
     * Runs until the controller shuts its workers down.
     *
     * @param args the bytes per sample
     * @throws InterruptedException if interrupted while waiting for shutdown
     * @throws IllegalArgumentException if the arguments do not parse, naming them
     */
    public static void main(String[] args) throws InterruptedException {
        if (args.length != 1) {
            throw new IllegalArgumentException("expected 1 argument (sample bytes): got=" + List.of(args));
        }
        int sampleBytes = ControlBenchCommand.parseInts("sample bytes", args[0]).getFirst();
        Worker.Context ctx = Worker.Context.fromEnvironment(System.getenv());
        try (Allocator allocator = Allocator.root("bench-step-worker-" + ctx.rank());
             Worker worker = Worker.start(ctx.roles(List.of(StepController.ROLE)).allocator(allocator)
                 .methods(WorkerMethods.annotated(new StepWorker(ctx.rank(), sampleBytes, allocator),
                     MethodHandles.lookup())))) {
            worker.awaitShutdown();
        }
    }
}
