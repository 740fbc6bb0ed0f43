package io.yatt.controller;

import static io.yatt.controller.RawOffers.await;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.lang.invoke.MethodHandles;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * An error that escapes a worker's frame handler (here a user payload type whose decoder fails with an Error, which
 * the frame adapter does not take for a malformed frame) is counted in the worker's stats, not only printed. An Error
 * then ends the agent's thread (agrona's runner rethrows it after its error handler), so the worker is not used again.
 */
class AgentErrorsTest {

    record Blob(String text) {
    }

    static final class Methods {
        @WorkerMethod(dispatch = "ONE_TO_ALL")
        String read(Blob blob) {
            return blob.text();
        }

        @WorkerMethod(dispatch = "ONE_TO_ALL")
        int twice(int value) {
            return 2 * value;
        }
    }

    private static final PayloadType<Blob> BLOB = new PayloadType<>(77, Blob.class, Blob::text,
            wire -> new Blob((String) wire));
    private static final PayloadType<Blob> FAILING_BLOB = new PayloadType<>(77, Blob.class, Blob::text, wire -> {
        throw new StackOverflowError("blob decoder recursed too deep");
    });

    @Test
    void shouldCountHandlerErrorOfWorker() {
        try (ControlPlane plane = ControlPlane.launch(TestWorkers.context().payloadTypes(List.of(BLOB)));
             Worker worker = Worker.start(new Worker.Context().workerId(100).rank(0).roles(List.of("actor"))
                     .payloadTypes(List.of(FAILING_BLOB))
                     .methods(WorkerMethods.annotated(new Methods(), MethodHandles.lookup()))
                     .controller(plane.endpoint()).externalDriverDirectory(plane.driverDirectory()))) {
            WorkerGroup group = plane.group("actor", 1, TestWorkers.GROUP_TIMEOUT_NS);
            assertEquals(new FrameStats(0, 0, 0, 0), worker.stats());
            assertEquals(List.of(14), group.call("twice", 7));
            // never answered: the worker could not read the invoke
            group.callAsync("read", new Blob("lost"));
            await(() -> worker.stats().agentErrors() > 0);
            assertEquals(new FrameStats(0, 0, 0, 1), worker.stats());
            assertEquals(new FrameStats(0, 0, 0, 0), plane.stats());
        }
    }
}
