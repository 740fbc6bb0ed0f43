package io.yatt.trainer.config;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class ConfigDocsTest {

    @Test
    void shouldDocumentEveryConfigKeyInTheTrainerPage() throws IOException {
        // Surefire runs in the module folder; the docs live at the repository root.
        String docs = Files.readString(Path.of("..", "docs", "trainer.md"));
        List<String> missing = new ArrayList<>();
        for (ConfigSchema.Key key : ConfigSchema.keys()) {
            if (!docs.contains("| `" + key.name() + "` |")) {
                missing.add(key.name());
            }
        }
        assertEquals(List.of(), missing);
        assertEquals(82, ConfigSchema.keys().size());
    }
}
