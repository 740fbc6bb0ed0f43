package io.yatt.controller.placement;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.io.ByteArrayInputStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.api.Test;

class DeviceProfileTest {

    @Test
    void shouldLoadTheA100VendorFigures() {
        DeviceProfile a100 = DeviceProfile.builtIn("a100");
        assertEquals(312e12, a100.peakBf16FlopsPerS());
        assertEquals(2039e9, a100.hbmBandwidthBytesPerS());
        assertEquals(80e9, a100.hbmByteSize());
        assertEquals(300e9, a100.nvlinkBandwidthBytesPerS());
        assertEquals(25e9, a100.interNodeBandwidthBytesPerS());
    }

    @Test
    void shouldLoadH100AndH200WithTheirMemory() {
        assertEquals(989e12, DeviceProfile.builtIn("H100-80GB").peakBf16FlopsPerS());
        assertEquals(3350e9, DeviceProfile.builtIn("h100").hbmBandwidthBytesPerS());
        assertEquals(141e9, DeviceProfile.builtIn("h200-141gb").hbmByteSize());
        assertEquals(4800e9, DeviceProfile.builtIn("h200").hbmBandwidthBytesPerS());
    }

    @Test
    void shouldRejectUnknownProfile() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> DeviceProfile.builtIn("v100"));
        assertEquals("unknown device profile: profile=v100, expected one of [a100, h100, h200] or a JSON file",
                e.getMessage());
        IllegalArgumentException wrongMemory = assertThrows(IllegalArgumentException.class,
                () -> DeviceProfile.builtIn("a100-40gb"));
        assertEquals("unknown device profile: profile=a100-40gb, expected one of [a100, h100, h200] or a JSON file",
                wrongMemory.getMessage());
    }

    @Test
    void shouldTakeLinkBandwidthFromCollectivesAndMemoryFromReshardFloor() {
        DeviceProfile base = DeviceProfile.builtIn("a100");
        List<String> lines = List.of(
                "{\"op\":\"all_gather\",\"size\":1048576,\"count\":262144,\"type\":\"f32\",\"redop\":null,\"root\":0,"
                        + "\"inPlace\":false,\"timeUs\":100.0,\"algbw\":10.0,\"busbw\":7.5,\"wrong\":0}",
                "{\"op\":\"all_gather\",\"size\":4194304,\"count\":1048576,\"type\":\"f32\",\"redop\":null,\"root\":0,"
                        + "\"inPlace\":false,\"timeUs\":200.0,\"algbw\":16.0,\"busbw\":12.5,\"wrong\":0}",
                "{\"op\":\"broadcast\",\"size\":4194304,\"busbw\":99.0}",
                "",
                "{\"scheme\":\"hybridflow\",\"modelBytes\":8000000,\"bytesReceivedPerRank\":1000000,"
                        + "\"peakParamBytesPerRank\":2000000,\"timeMs\":2.0,\"floorMs\":0.5}");
        DeviceProfile c = base.calibrated(lines);
        assertEquals(12.5e9, c.nvlinkBandwidthBytesPerS());
        assertEquals(12.5e9, c.interNodeBandwidthBytesPerS());
        assertEquals(1000000 / 0.5e-3, c.hbmBandwidthBytesPerS());
        assertEquals(312e12, c.peakBf16FlopsPerS());
        assertEquals(80e9, c.hbmByteSize());
        assertEquals("a100+calibrated", c.name());
    }

    @Test
    void shouldFallBackToReshardTimeForLinksWithoutCollectives() {
        DeviceProfile c = DeviceProfile.builtIn("h100").calibrated(List.of(
                "{\"scheme\":\"ds-chat\",\"bytesReceivedPerRank\":9000000,\"timeMs\":1.0,\"floorMs\":3.0}",
                "{\"scheme\":\"hybridflow\",\"bytesReceivedPerRank\":1000000,\"timeMs\":4.0,\"floorMs\":0.25}"));
        assertEquals(1000000 / 4.0e-3, c.nvlinkBandwidthBytesPerS());
        assertEquals(1000000 / 0.25e-3, c.hbmBandwidthBytesPerS());
    }

    @Test
    void shouldRejectBenchmarkOutputWithoutBandwidth() {
        DeviceProfile a100 = DeviceProfile.builtIn("a100");
        IllegalArgumentException none = assertThrows(IllegalArgumentException.class,
                () -> a100.calibrated(List.of("# header", "{\"op\":\"broadcast\",\"busbw\":3.0}")));
        assertEquals("no bandwidth in the benchmark output: lines=2, expected lines of 'yatt bench collectives --json'"
                + " (op, busbw) or 'yatt bench reshard --json' (scheme, bytesReceivedPerRank, timeMs, floorMs)",
                none.getMessage());
        IllegalArgumentException text = assertThrows(IllegalArgumentException.class,
                () -> a100.calibrated(List.of("  size  count")));
        assertEquals("benchmark line is not JSON: line=1, text=size  count", text.getMessage());
    }

    @Test
    void shouldParseProfileJsonAndNameAMissingField() throws Exception {
        String json = "{\"name\":\"x\",\"device\":\"X\",\"peakBf16FlopsPerS\":1e12,\"hbmBandwidthBytesPerS\":1e11,"
                + "\"hbmByteSize\":1e10,\"nvlinkBandwidthBytesPerS\":1e10,\"interNodeBandwidthBytesPerS\":1e9,"
                + "\"source\":\"test\"}";
        DeviceProfile p = DeviceProfile.parse(new ByteArrayInputStream(json.getBytes(StandardCharsets.UTF_8)), "x.json");
        assertEquals(1e10, p.hbmByteSize());
        String missing = json.replace("\"hbmByteSize\":1e10,", "");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> DeviceProfile.parse(
                new ByteArrayInputStream(missing.getBytes(StandardCharsets.UTF_8)), "x.json"));
        assertEquals("device profile field missing or not a number: origin=x.json, field=hbmByteSize", e.getMessage());
        String negative = json.replace("\"hbmByteSize\":1e10", "\"hbmByteSize\":-1");
        IllegalArgumentException n = assertThrows(IllegalArgumentException.class, () -> DeviceProfile.parse(
                new ByteArrayInputStream(negative.getBytes(StandardCharsets.UTF_8)), "x.json"));
        assertEquals("device profile figure must be positive: profile=x, hbmByteSize=-1.0", n.getMessage());
    }
}
