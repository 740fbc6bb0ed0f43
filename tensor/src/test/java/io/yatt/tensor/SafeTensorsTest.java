package io.yatt.tensor;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.core.JsonProcessingException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SafeTensorsTest {
    @TempDir
    Path dir;
    private Allocator allocator;

    @BeforeEach
    void openAllocator() {
        allocator = Allocator.root("safetensors");
    }

    @AfterEach
    void closeAllocator() {
        allocator.close();
    }

    /** Writes a file from a raw header and data, with the header length given explicitly. */
    private Path raw(long headerLength, String header, int dataBytes) throws IOException {
        byte[] json = header.getBytes(StandardCharsets.UTF_8);
        ByteBuffer buffer = ByteBuffer.allocate(8 + json.length + dataBytes).order(ByteOrder.LITTLE_ENDIAN);
        buffer.putLong(headerLength).put(json);
        for (int i = 0; i < dataBytes; i++) {
            buffer.put((byte) i);
        }
        Path path = dir.resolve("raw.safetensors");
        Files.write(path, buffer.array());
        return path;
    }

    private Path raw(String header, int dataBytes) throws IOException {
        return raw(header.getBytes(StandardCharsets.UTF_8).length, header, dataBytes);
    }

    private String rejection(Path path) {
        return assertThrows(IllegalArgumentException.class, () -> SafeTensors.open(path)).getMessage();
    }

    @Test
    void shouldRoundTripTensorsAndMetadata() throws IOException {
        Path path = dir.resolve("model.safetensors");
        try (Tensor weight = Tensor.allocate(allocator, DType.BF16, Shape.of(3, 5), Device.host());
             Tensor bias = Tensor.allocate(allocator, DType.F32, Shape.of(5), Device.host());
             Tensor step = Tensor.allocate(allocator, DType.I64, Shape.of(), Device.host());
             Tensor mask = Tensor.allocate(allocator, DType.BOOL, Shape.of(0, 4), Device.host())) {
            weight.fillRandom(1);
            bias.fillRandom(2);
            step.setDouble(1234);
            Map<String, Tensor> tensors = new LinkedHashMap<>();
            tensors.put("z.weight", weight);
            tensors.put("a.bias", bias);
            tensors.put("step", step);
            tensors.put("mask", mask);
            SafeTensors.write(path, tensors, Map.of("format", "pt", "step", "7"));
            try (SafeTensorsFile file = SafeTensors.open(path)) {
                assertEquals(List.of("a.bias", "mask", "step", "z.weight"), List.copyOf(file.tensors().keySet()));
                assertEquals(Map.of("format", "pt", "step", "7"), file.metadata());
                assertTrue(file.get("z.weight").contentEquals(weight));
                assertTrue(file.get("a.bias").contentEquals(bias));
                assertEquals(1234.0, file.get("step").getDouble());
                assertEquals(Shape.of(0, 4), file.get("mask").shape());
                assertEquals(0, file.get("a.bias").byteOffset());
                assertEquals(20, file.get("step").byteOffset());
                assertEquals(28, file.get("z.weight").byteOffset());
                assertTrue(file.get("z.weight").isReadOnly());
                assertEquals(path, file.path());
            }
        }
        byte[] bytes = Files.readAllBytes(path);
        long headerLength = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN).getLong();
        assertEquals(0, (8 + headerLength) % 8);
        assertEquals(8 + headerLength + 20 + 8 + 30, bytes.length);
        String header = new String(bytes, 8, (int) headerLength, StandardCharsets.UTF_8);
        assertEquals("{\"__metadata__\":{\"format\":\"pt\",\"step\":\"7\"},"
                + "\"a.bias\":{\"dtype\":\"F32\",\"shape\":[5],\"data_offsets\":[0,20]},"
                + "\"mask\":{\"dtype\":\"BOOL\",\"shape\":[0,4],\"data_offsets\":[20,20]},"
                + "\"step\":{\"dtype\":\"I64\",\"shape\":[],\"data_offsets\":[20,28]},"
                + "\"z.weight\":{\"dtype\":\"BF16\",\"shape\":[3,5],\"data_offsets\":[28,58]}}", header.stripTrailing());
        assertTrue(header.endsWith(" ") || header.length() % 8 == 0);
    }

    @Test
    void shouldWriteStridedViewsAsTheirElements() {
        Path path = dir.resolve("strided.safetensors");
        try (Tensor full = Tensor.allocate(allocator, DType.I32, Shape.of(4, 6), Device.host())) {
            full.fillRandom(3);
            Tensor cols = full.narrow(1, 1, 3);
            SafeTensors.write(path, Map.of("cols", cols), Map.of());
            try (SafeTensorsFile file = SafeTensors.open(path)) {
                assertTrue(file.get("cols").contentEquals(cols));
                assertTrue(file.get("cols").isContiguous());
                assertEquals(Map.of(), file.metadata());
            }
        }
    }

    @Test
    void shouldHandOutZeroCopyViewsThatFailAfterClose() throws IOException {
        Path path = raw("{\"x\":{\"dtype\":\"U8\",\"shape\":[2,2],\"data_offsets\":[0,4]}}    ", 4);
        SafeTensorsFile file = SafeTensors.open(path);
        Tensor x = file.get("x");
        assertEquals(3.0, x.getDouble(1, 1));
        assertEquals(2.0, x.narrow(0, 1, 1).getDouble(0, 0));
        UnsupportedOperationException write = assertThrows(UnsupportedOperationException.class, () -> x.fill(0));
        assertEquals("tensor is read-only: dtype=U8, shape=[2, 2], device=host, safetensors=" + path, write.getMessage());
        file.close();
        IllegalStateException use = assertThrows(IllegalStateException.class, () -> x.getDouble(0, 0));
        assertEquals("tensor used after free: dtype=U8, shape=[2, 2], device=host, safetensors=" + path, use.getMessage());
        IllegalStateException twice = assertThrows(IllegalStateException.class, file::close);
        assertEquals("safetensors file already closed: file=" + path, twice.getMessage());
    }

    @Test
    void shouldRejectUnknownTensorName() throws IOException {
        Path path = raw("{}", 0);
        try (SafeTensorsFile file = SafeTensors.open(path)) {
            assertTrue(file.tensors().isEmpty());
            IllegalArgumentException error = assertThrows(IllegalArgumentException.class, () -> file.get("w"));
            assertEquals("safetensors tensor not found: file=" + path + ", tensor=w", error.getMessage());
        }
    }

    @Test
    void shouldLeaveNothingBehindWhenAWriteFailsMidway() throws IOException {
        Path path = dir.resolve("partial.safetensors");
        Tensor good = Tensor.allocate(allocator, DType.F32, Shape.of(1024), Device.host());
        Tensor closed = Tensor.allocate(allocator, DType.F32, Shape.of(16), Device.host());
        closed.close();
        IllegalStateException error = assertThrows(IllegalStateException.class,
                () -> SafeTensors.write(path, Map.of("a", good, "b", closed), Map.of()));
        assertEquals("tensor used after close: dtype=F32, shape=[16], device=host", error.getMessage());
        try (Stream<Path> files = Files.list(dir)) {
            assertEquals(List.of(), files.toList());
        }
        good.close();
    }

    @Test
    void shouldKeepThePreviousFileWhenAnOverwriteFails() throws IOException {
        Path path = dir.resolve("keep.safetensors");
        try (Tensor good = Tensor.allocate(allocator, DType.F32, Shape.of(4), Device.host())) {
            good.fill(1);
            SafeTensors.write(path, Map.of("a", good), Map.of());
            byte[] before = Files.readAllBytes(path);
            Tensor closed = Tensor.allocate(allocator, DType.F32, Shape.of(4), Device.host());
            closed.close();
            assertThrows(IllegalStateException.class, () -> SafeTensors.write(path, Map.of("b", closed), Map.of()));
            assertArrayEquals(before, Files.readAllBytes(path));
            try (Stream<Path> files = Files.list(dir)) {
                assertEquals(List.of(path), files.toList());
            }
        }
    }

    @Test
    void shouldRejectReservedTensorName() {
        try (Tensor tensor = Tensor.allocate(allocator, DType.F32, Shape.of(1), Device.host())) {
            IllegalArgumentException error = assertThrows(IllegalArgumentException.class,
                    () -> SafeTensors.write(dir.resolve("x"), Map.of("__metadata__", tensor), Map.of()));
            assertEquals("reserved tensor name: name=__metadata__", error.getMessage());
        }
    }

    // ---- malformed files: one test per case, each asserting the exact message ----

    @Test
    void shouldRejectFileShorterThanThePrefix() throws IOException {
        Path path = dir.resolve("short.safetensors");
        Files.write(path, new byte[5]);
        assertEquals("safetensors file too short: file=" + path + ", byteSize=5, required=8", rejection(path));
    }

    @Test
    void shouldRejectHeaderLargerThanTheFile() throws IOException {
        Path path = raw(4096, "{}", 0);
        assertEquals("safetensors header exceeds file: file=" + path + ", headerByteSize=4096, fileByteSize=10",
                rejection(path));
    }

    @Test
    void shouldRejectHeaderLargerThanTheMaximum() throws IOException {
        Path path = raw(100_000_001, "{}", 0);
        assertEquals("safetensors header too large: file=" + path + ", headerByteSize=100000001, max=100000000",
                rejection(path));
        Path negative = raw(-1, "{}", 0);
        assertEquals("safetensors header too large: file=" + negative
                + ", headerByteSize=18446744073709551615, max=100000000", rejection(negative));
    }

    @Test
    void shouldRejectBadJson() throws IOException {
        Path path = raw("{\"x\": {\"dtype\": \"F32\",", 0);
        IllegalArgumentException error = assertThrows(IllegalArgumentException.class, () -> SafeTensors.open(path));
        assertEquals("safetensors header is not valid JSON: file=" + path, error.getMessage());
        assertInstanceOf(JsonProcessingException.class, error.getCause());
        Path duplicate = raw("{\"x\":{\"dtype\":\"U8\",\"shape\":[],\"data_offsets\":[0,1]},"
                + "\"x\":{\"dtype\":\"U8\",\"shape\":[],\"data_offsets\":[0,1]}}", 1);
        assertEquals("safetensors header is not valid JSON: file=" + duplicate, rejection(duplicate));
        Path trailing = raw("{} {}", 0);
        assertEquals("safetensors header is not valid JSON: file=" + trailing, rejection(trailing));
    }

    @Test
    void shouldRejectHeaderThatIsNotAnObject() throws IOException {
        Path path = raw("[1, 2]", 0);
        assertEquals("safetensors header is not a JSON object: file=" + path, rejection(path));
    }

    @Test
    void shouldRejectEntryThatIsNotAnObject() throws IOException {
        Path path = raw("{\"x\": 3}", 0);
        assertEquals("safetensors entry is not an object: file=" + path + ", tensor=x", rejection(path));
    }

    @Test
    void shouldRejectEntriesWithMissingOrMistypedFields() throws IOException {
        Path noDtype = raw("{\"x\":{\"shape\":[1],\"data_offsets\":[0,1]}}", 1);
        assertEquals("safetensors entry malformed: file=" + noDtype + ", tensor=x, reason=dtype missing or not a string",
                rejection(noDtype));
        Path badShape = raw("{\"x\":{\"dtype\":\"U8\",\"shape\":[1.5],\"data_offsets\":[0,1]}}", 1);
        assertEquals("safetensors entry malformed: file=" + badShape
                + ", tensor=x, reason=shape missing or not an array of integers", rejection(badShape));
        Path badOffsets = raw("{\"x\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0]}}", 1);
        assertEquals("safetensors entry malformed: file=" + badOffsets
                + ", tensor=x, reason=data_offsets missing or not an array of two integers", rejection(badOffsets));
    }

    @Test
    void shouldRejectUnknownDtype() throws IOException {
        Path path = raw("{\"x\":{\"dtype\":\"F8_E4M3\",\"shape\":[1],\"data_offsets\":[0,1]}}", 1);
        assertEquals("safetensors unknown dtype: file=" + path + ", tensor=x, dtype=F8_E4M3, expected one of"
                + " [F32, F16, BF16, F64, I8, I32, I64, U8, BOOL]", rejection(path));
    }

    @Test
    void shouldRejectNegativeDimension() throws IOException {
        Path path = raw("{\"x\":{\"dtype\":\"U8\",\"shape\":[2,-1],\"data_offsets\":[0,2]}}", 2);
        assertEquals("safetensors negative dimension: file=" + path + ", tensor=x, shape=[2, -1]", rejection(path));
    }

    @Test
    void shouldRejectShapeWhoseByteSizeOverflows() throws IOException {
        Path path = raw("{\"x\":{\"dtype\":\"F64\",\"shape\":[4611686018427387904],\"data_offsets\":[0,8]}}", 8);
        assertEquals("safetensors shape too large: file=" + path + ", tensor=x, shape=[4611686018427387904]",
                rejection(path));
    }

    @Test
    void shouldRejectNegativeOffsets() throws IOException {
        Path path = raw("{\"x\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[-1,0]}}", 1);
        assertEquals("safetensors data_offsets negative: file=" + path + ", tensor=x, begin=-1, end=0", rejection(path));
    }

    @Test
    void shouldRejectBeginAfterEnd() throws IOException {
        Path path = raw("{\"x\":{\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":[8,4]}}", 8);
        assertEquals("safetensors data_offsets begin after end: file=" + path + ", tensor=x, begin=8, end=4",
                rejection(path));
    }

    @Test
    void shouldRejectOffsetsOutOfRangeOrTruncatedData() throws IOException {
        Path path = raw("{\"x\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}", 12);
        assertEquals("safetensors data_offsets out of range (truncated data?): file=" + path
                + ", tensor=x, begin=0, end=16, dataByteSize=12", rejection(path));
    }

    @Test
    void shouldRejectShapeThatDoesNotMatchTheByteSize() throws IOException {
        Path path = raw("{\"x\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,20]}}", 20);
        assertEquals("safetensors shape does not match data_offsets: file=" + path
                + ", tensor=x, dtype=F32, shape=[2, 3], expectedByteSize=24, byteSize=20", rejection(path));
    }

    @Test
    void shouldRejectOverlappingOffsets() throws IOException {
        Path path = raw("{\"a\":{\"dtype\":\"U8\",\"shape\":[8],\"data_offsets\":[0,8]},"
                + "\"b\":{\"dtype\":\"U8\",\"shape\":[8],\"data_offsets\":[4,12]}}", 12);
        assertEquals("safetensors data_offsets overlap: file=" + path + ", tensor=b, begin=4, end=12, overlaps=a,"
                + " overlapsEnd=8", rejection(path));
    }

    @Test
    void shouldRejectAHoleBetweenTensors() throws IOException {
        Path path = raw("{\"a\":{\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":[0,4]},"
                + "\"b\":{\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":[8,12]}}", 12);
        assertEquals("safetensors data section has a hole: file=" + path + ", begin=4, end=8", rejection(path));
    }

    @Test
    void shouldRejectBytesAfterTheLastTensor() throws IOException {
        Path path = raw("{\"a\":{\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":[0,4]}}", 6);
        assertEquals("safetensors data section has a hole: file=" + path + ", begin=4, end=6", rejection(path));
    }

    @Test
    void shouldRejectMetadataThatIsNotStringToString() throws IOException {
        Path notObject = raw("{\"__metadata__\": [1]}", 0);
        assertEquals("safetensors __metadata__ is not an object: file=" + notObject, rejection(notObject));
        Path number = raw("{\"__metadata__\": {\"format\": \"pt\", \"step\": 7}}", 0);
        assertEquals("safetensors __metadata__ must map strings to strings: file=" + number + ", key=step",
                rejection(number));
    }

    @Test
    void shouldReportAMissingFile() {
        Path path = dir.resolve("missing.safetensors");
        java.io.UncheckedIOException error = assertThrows(java.io.UncheckedIOException.class, () -> SafeTensors.open(path));
        assertEquals("cannot read safetensors file: file=" + path, error.getMessage());
        assertFalse(Files.exists(path));
    }
}
