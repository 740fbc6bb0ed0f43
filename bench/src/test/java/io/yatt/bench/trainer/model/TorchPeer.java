package io.yatt.bench.trainer.model;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Runs the PyTorch peer ({@code bench/peers/torch/llama_peer.py}) for tests: finds a {@code python3} on PATH or
 * {@code /usr/bin/python3} that imports torch (Debian: python3-torch, which {@code bench/peers/torch/run.sh}
 * installs) once, and skips the calling test with that reason when there is none.
 */
final class TorchPeer {
    static final Path SCRIPT = Path.of("peers/torch/llama_peer.py");
    private static final long TIMEOUT_S = 300;
    private static String python;
    private static boolean searched;

    private TorchPeer() {
    }

    /** Runs the peer script with {@code args}; skips (JUnit assumption) without torch or without the script. */
    static PeerProcess.Result run(String... args) throws IOException, InterruptedException {
        String found = python();
        assumeTrue(found != null, "no python3 that imports torch (install Debian's python3-torch)");
        assumeTrue(Files.isRegularFile(SCRIPT), "run from the bench module folder: " + SCRIPT + " not found");
        List<String> command = new ArrayList<>(List.of(found, SCRIPT.toString()));
        command.addAll(List.of(args));
        return exec(command);
    }

    private static synchronized String python() throws InterruptedException {
        if (!searched) {
            searched = true;
            for (String candidate : List.of("python3", "/usr/bin/python3")) {
                try {
                    if (exec(List.of(candidate, "-c", "import torch")).code() == 0) {
                        python = candidate;
                        break;
                    }
                } catch (IOException e) {
                    // not installed: try the next one
                }
            }
        }
        return python;
    }

    private static PeerProcess.Result exec(List<String> command) throws IOException, InterruptedException {
        return PeerProcess.run(command, TIMEOUT_S).orElseThrow(
                () -> new IllegalStateException("timed out after " + TIMEOUT_S + " s: " + command));
    }
}
