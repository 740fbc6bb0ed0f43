package io.yatt.trainer.run;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;
import net.jqwik.api.constraints.Size;

class CheckpointPropertiesTest {

    @Property(tries = 50)
    void shouldRefuseACheckpointWithAnySingleByteChanged(@ForAll @Size(min = 1, max = 300) byte[] weights,
            @ForAll @IntRange(min = 0, max = 299) int position, @ForAll @IntRange(min = 1, max = 255) int flip)
            throws IOException {
        Path dir = Files.createTempDirectory("yatt-ckpt-prop");
        try {
            Checkpoint checkpoint = CheckpointStore.at(dir).write(1, Map.of(),
                    folder -> Files.write(folder.resolve("weights.bin"), weights));
            byte[] altered = weights.clone();
            altered[position % altered.length] ^= (byte) flip;
            Files.write(checkpoint.file("weights.bin"), altered);

            CheckpointException refused = assertThrows(CheckpointException.class,
                    () -> CheckpointStore.open(checkpoint.path()));
            assertTrue(refused.getMessage().startsWith("checkpoint file corrupt: path=" + checkpoint.path()
                    + ", file=weights.bin, crc32c expected="), refused.getMessage());
        } finally {
            try {
                AtomicFiles.deleteTree(dir);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
    }
}
