package io.yatt.trainer.run;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class MetricPlotsTest {

    @TempDir
    Path dir;

    static List<StepMetrics> syntheticRun(int steps) {
        List<StepMetrics> rows = new ArrayList<>();
        for (int s = 1; s <= steps; s++) {
            Map<String, Double> v = new LinkedHashMap<>();
            v.put(MetricNames.SCORE_MEAN, 0.2 + 0.6 * s / steps);
            v.put(MetricNames.PPO_KL, 0.001 * s);
            v.put(MetricNames.ENTROPY, 1.5 - 0.02 * s);
            v.put(MetricNames.PG_LOSS, -0.05 + 0.001 * s);
            v.put(MetricNames.VF_LOSS, 0.4 / s);
            v.put(MetricNames.RESPONSE_LENGTH_MEAN, 3.0 - 1.0 * s / steps);
            v.put(MetricNames.TIMING_GEN, 0.8);
            v.put(MetricNames.TIMING_RESHARD, 0.03);
            v.put(MetricNames.TIMING_UPDATE_ACTOR, 0.6 + 0.01 * s);
            v.put(MetricNames.TIMING_STEP, 1.5);
            if (s % 5 == 0) {
                v.put(MetricNames.VAL_SCORE_MEAN, 0.1 + 0.6 * s / steps);
            }
            rows.add(new StepMetrics(s, v));
        }
        return rows;
    }

    @Test
    void shouldWriteOnePngPerPlotThatHasDataAtTheDocumentedSize() throws IOException {
        List<Path> written = MetricPlots.write(dir, syntheticRun(40));

        assertEquals(List.of(dir.resolve("reward.png"), dir.resolve("kl.png"), dir.resolve("entropy.png"),
                dir.resolve("losses.png"), dir.resolve("response_length.png"), dir.resolve("stage_times.png")),
                written);
        for (Path file : written) {
            BufferedImage image = ImageIO.read(file.toFile());
            assertEquals(MetricPlots.WIDTH_PX, image.getWidth(), file.toString());
            assertEquals(MetricPlots.HEIGHT_PX, image.getHeight(), file.toString());
        }
    }

    @Test
    void shouldWriteNothingWithoutPlottedMetrics() {
        assertEquals(List.of(), MetricPlots.write(dir, List.of(new StepMetrics(1, Map.of("other", 1.0)))));
    }
}
