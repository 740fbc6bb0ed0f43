package io.yatt.controller;

import java.lang.invoke.MethodHandles;
import java.util.List;

/** A worker JVM for {@link WorkerProcessTest}: serves {@link TestWorkers.Methods} until the controller says stop. */
final class WorkerProcessMain {

    private WorkerProcessMain() {
    }

    public static void main(String[] args) throws InterruptedException {
        Worker.Context ctx = Worker.Context.fromEnvironment(System.getenv());
        TestWorkers.Methods methods = new TestWorkers.Methods(ctx.rank(), ctx.device().toString());
        try (Worker worker = Worker.start(ctx.roles(List.of("actor"))
                .methods(WorkerMethods.annotated(methods, MethodHandles.lookup())))) {
            String reason = worker.awaitShutdown();
            // one line for the test's log: why this worker stopped and what it dropped (a hung test names its cause)
            System.err.println("test worker " + ctx.rank() + " stopped: " + reason + ", frames=" + worker.stats());
        }
    }
}
