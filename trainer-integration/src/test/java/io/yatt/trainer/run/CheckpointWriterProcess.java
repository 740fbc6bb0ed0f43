package io.yatt.trainer.run;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

/**
 * Test fixture run as a child JVM: publishes checkpoint 10 in the folder given as the argument, then starts
 * checkpoint 20, prints {@code writing} once its first file is on disk and waits to be killed.
 */
final class CheckpointWriterProcess {

    private CheckpointWriterProcess() {
    }

    public static void main(String[] args) throws Exception {
        CheckpointStore store = CheckpointStore.at(Path.of(args[0]));
        store.write(10, Map.of("run", "a"), folder -> Files.writeString(folder.resolve("weights.bin"), "ten"));
        store.write(20, Map.of("run", "a"), folder -> {
            Files.writeString(folder.resolve("weights.bin"), "twenty, half writ");
            System.out.println("writing");
            System.out.flush();
            try {
                Thread.sleep(Long.MAX_VALUE);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        });
    }
}
