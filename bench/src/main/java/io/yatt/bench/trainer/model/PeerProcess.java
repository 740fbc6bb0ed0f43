package io.yatt.bench.trainer.model;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

/**
 * A peer process (the PyTorch peer, its interpreter probe) run to completion: no stdin, stdout read in full, stderr
 * drained beside it so a chatty peer cannot block on a full pipe. Stateless.
 */
final class PeerProcess {

    private PeerProcess() {
    }

    /** What the process printed and its exit code. */
    record Result(int code, String out, String err) {
    }

    /**
     * Runs {@code command} and waits for it.
     *
     * @return the result, or empty if it ran past {@code timeoutS} (it is then killed)
     * @throws IOException if the process cannot be started or read
     */
    static Optional<Result> run(List<String> command, long timeoutS) throws IOException, InterruptedException {
        Process process = new ProcessBuilder(command).redirectInput(ProcessBuilder.Redirect.from(
                Path.of("/dev/null").toFile())).start();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        Thread drain = Thread.ofVirtual().start(() -> {
            try {
                process.getErrorStream().transferTo(err);
            } catch (IOException e) {
                // the process died; its exit code tells
            }
        });
        String out = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (!process.waitFor(timeoutS, TimeUnit.SECONDS)) {
            process.destroyForcibly();
            return Optional.empty();
        }
        drain.join();
        return Optional.of(new Result(process.exitValue(), out, err.toString(StandardCharsets.UTF_8)));
    }
}
