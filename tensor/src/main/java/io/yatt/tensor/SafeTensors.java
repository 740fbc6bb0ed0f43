package io.yatt.tensor;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.Comparator;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * Reads and writes the safetensors format: an 8-byte little-endian header length, a JSON header mapping tensor
 * names to {@code dtype}, {@code shape} and {@code data_offsets} (plus an optional string-to-string
 * {@code __metadata__}), then the data section, which the tensors must cover exactly, without holes or overlaps.
 * Malformed files are rejected with an IllegalArgumentException naming the file and what is wrong. Stateless and
 * thread-safe.
 */
public final class SafeTensors {
    /** The largest header accepted, in bytes (the reference implementation's limit). */
    public static final long MAX_HEADER_BYTES = 100_000_000;
    /** Header length prefix, in bytes. */
    static final int PREFIX_BYTES = 8;
    /** The header is padded with spaces so the data section starts at a multiple of this. */
    static final int ALIGNMENT_BYTES = 8;
    static final String METADATA_KEY = "__metadata__";
    /** Data is written in slices of at most this many bytes (a ByteBuffer holds at most 2 GiB). */
    private static final long WRITE_SLICE_BYTES = 1L << 30;

    private static final ObjectMapper JSON = new ObjectMapper()
            .enable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION)
            .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS);

    private SafeTensors() {
    }

    /**
     * Memory-maps a safetensors file and validates its header.
     *
     * @throws IllegalArgumentException if the file is malformed (the message says how)
     * @throws UncheckedIOException if the file cannot be read
     */
    public static SafeTensorsFile open(Path path) {
        Arena arena = Arena.ofShared();
        try {
            return open(path, arena);
        } catch (RuntimeException | Error e) {
            arena.close();
            throw e;
        }
    }

    private static SafeTensorsFile open(Path path, Arena arena) {
        MemorySegment file;
        try (FileChannel channel = FileChannel.open(path, StandardOpenOption.READ)) {
            long fileByteSize = channel.size();
            if (fileByteSize < PREFIX_BYTES) {
                throw malformed("safetensors file too short", path, "byteSize=" + fileByteSize + ", required=" + PREFIX_BYTES);
            }
            file = channel.map(FileChannel.MapMode.READ_ONLY, 0, fileByteSize, arena);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read safetensors file: file=" + path, e);
        }
        long fileByteSize = file.byteSize();
        long headerByteSize = file.get(ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), 0);
        if (headerByteSize < 0 || headerByteSize > MAX_HEADER_BYTES) {
            throw malformed("safetensors header too large", path,
                    "headerByteSize=" + Long.toUnsignedString(headerByteSize) + ", max=" + MAX_HEADER_BYTES);
        }
        if (headerByteSize > fileByteSize - PREFIX_BYTES) {
            throw malformed("safetensors header exceeds file", path,
                    "headerByteSize=" + headerByteSize + ", fileByteSize=" + fileByteSize);
        }
        byte[] headerBytes = file.asSlice(PREFIX_BYTES, headerByteSize).toArray(ValueLayout.JAVA_BYTE);
        JsonNode header;
        try {
            header = JSON.readTree(headerBytes);
        } catch (IOException e) {
            throw new IllegalArgumentException("safetensors header is not valid JSON: file=" + path, e);
        }
        if (header == null || !header.isObject()) {
            throw malformed("safetensors header is not a JSON object", path, null);
        }
        long dataStart = PREFIX_BYTES + headerByteSize;
        long dataByteSize = fileByteSize - dataStart;
        Map<String, String> metadata = Map.of();
        List<Entry> entries = new ArrayList<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = header.properties().iterator(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> field = it.next();
            if (field.getKey().equals(METADATA_KEY)) {
                metadata = parseMetadata(path, field.getValue());
            } else {
                entries.add(parseEntry(path, field.getKey(), field.getValue(), dataByteSize));
            }
        }
        entries.sort(Comparator.comparingLong(Entry::begin).thenComparingLong(Entry::end));
        checkCoverage(path, entries, dataByteSize);
        Storage storage = Storage.external(file.asSlice(dataStart, dataByteSize), "safetensors=" + path, true);
        Map<String, Tensor> tensors = new LinkedHashMap<>();
        for (Entry entry : entries) {
            tensors.put(entry.name(), Tensor.wrap(storage, entry.dtype(), entry.shape(), entry.begin()));
        }
        return new SafeTensorsFile(path, arena, storage, Collections.unmodifiableMap(tensors), metadata);
    }

    private record Entry(String name, DType dtype, Shape shape, long begin, long end) {
    }

    private static Map<String, String> parseMetadata(Path path, JsonNode node) {
        if (!node.isObject()) {
            throw malformed("safetensors __metadata__ is not an object", path, null);
        }
        Map<String, String> metadata = new LinkedHashMap<>();
        for (Map.Entry<String, JsonNode> field : node.properties()) {
            if (!field.getValue().isTextual()) {
                throw malformed("safetensors __metadata__ must map strings to strings", path, "key=" + field.getKey());
            }
            metadata.put(field.getKey(), field.getValue().textValue());
        }
        return Collections.unmodifiableMap(metadata);
    }

    private static Entry parseEntry(Path path, String name, JsonNode node, long dataByteSize) {
        String where = "tensor=" + name;
        if (!node.isObject()) {
            throw malformed("safetensors entry is not an object", path, where);
        }
        JsonNode dtypeNode = node.get("dtype");
        if (dtypeNode == null || !dtypeNode.isTextual()) {
            throw malformed("safetensors entry malformed", path, where + ", reason=dtype missing or not a string");
        }
        JsonNode shapeNode = node.get("shape");
        if (shapeNode == null || !shapeNode.isArray() || !allIntegers(shapeNode)) {
            throw malformed("safetensors entry malformed", path, where + ", reason=shape missing or not an array of integers");
        }
        JsonNode offsetsNode = node.get("data_offsets");
        if (offsetsNode == null || !offsetsNode.isArray() || offsetsNode.size() != 2 || !allIntegers(offsetsNode)) {
            throw malformed("safetensors entry malformed", path,
                    where + ", reason=data_offsets missing or not an array of two integers");
        }
        DType dtype;
        String dtypeName = dtypeNode.textValue();
        try {
            dtype = DType.fromSafetensors(dtypeName);
        } catch (IllegalArgumentException e) {
            throw malformed("safetensors unknown dtype", path,
                    where + ", dtype=" + dtypeName + ", expected one of " + DType.safetensorsNames());
        }
        long[] dims = new long[shapeNode.size()];
        for (int i = 0; i < dims.length; i++) {
            dims[i] = shapeNode.get(i).longValue();
        }
        for (long dim : dims) {
            if (dim < 0) {
                throw malformed("safetensors negative dimension", path, where + ", shape=" + Arrays.toString(dims));
            }
        }
        long expectedByteSize;
        Shape shape;
        try {
            shape = Shape.of(dims);
            expectedByteSize = Math.multiplyExact(shape.numel(), (long) dtype.byteSize());
        } catch (IllegalArgumentException | ArithmeticException overflow) {
            throw malformed("safetensors shape too large", path, where + ", shape=" + Arrays.toString(dims));
        }
        long begin = offsetsNode.get(0).longValue();
        long end = offsetsNode.get(1).longValue();
        if (begin < 0 || end < 0) {
            throw malformed("safetensors data_offsets negative", path, where + ", begin=" + begin + ", end=" + end);
        }
        if (begin > end) {
            throw malformed("safetensors data_offsets begin after end", path, where + ", begin=" + begin + ", end=" + end);
        }
        if (end > dataByteSize) {
            throw malformed("safetensors data_offsets out of range (truncated data?)", path,
                    where + ", begin=" + begin + ", end=" + end + ", dataByteSize=" + dataByteSize);
        }
        if (end - begin != expectedByteSize) {
            throw malformed("safetensors shape does not match data_offsets", path, where + ", dtype=" + dtype
                    + ", shape=" + shape + ", expectedByteSize=" + expectedByteSize + ", byteSize=" + (end - begin));
        }
        return new Entry(name, dtype, shape, begin, end);
    }

    private static boolean allIntegers(JsonNode array) {
        for (JsonNode element : array) {
            if (!element.isIntegralNumber() || !element.canConvertToLong()) {
                return false;
            }
        }
        return true;
    }

    /** Sorted entries must tile [0, dataByteSize) exactly: no overlap, no hole, nothing after the last one. */
    private static void checkCoverage(Path path, List<Entry> entries, long dataByteSize) {
        long cursor = 0;
        Entry previous = null;
        for (Entry entry : entries) {
            if (entry.begin() < cursor) {
                throw malformed("safetensors data_offsets overlap", path, "tensor=" + entry.name() + ", begin="
                        + entry.begin() + ", end=" + entry.end() + ", overlaps=" + previous.name() + ", overlapsEnd="
                        + previous.end());
            }
            if (entry.begin() > cursor) {
                throw malformed("safetensors data section has a hole", path, "begin=" + cursor + ", end=" + entry.begin());
            }
            cursor = entry.end();
            previous = entry;
        }
        if (cursor != dataByteSize) {
            throw malformed("safetensors data section has a hole", path, "begin=" + cursor + ", end=" + dataByteSize);
        }
    }

    private static IllegalArgumentException malformed(String what, Path path, String details) {
        return new IllegalArgumentException(what + ": file=" + path + (details == null ? "" : ", " + details));
    }

    /**
     * Writes tensors (any layout, any device) and metadata as a safetensors file: tensors in name order, data in
     * that order, the header padded with spaces to an 8-byte boundary. The bytes go to a temporary file in the same
     * directory that is then renamed over {@code path} atomically; on any failure the temporary file is deleted
     * and {@code path} is left as it was.
     *
     * @throws IllegalArgumentException if a name is {@code __metadata__}
     * @throws IllegalStateException if a tensor is closed or freed
     * @throws UncheckedIOException if the file cannot be written
     */
    public static void write(Path path, Map<String, Tensor> tensors, Map<String, String> metadata) {
        Map<String, Tensor> sorted = new TreeMap<>(tensors);
        if (sorted.containsKey(METADATA_KEY)) {
            throw new IllegalArgumentException("reserved tensor name: name=" + METADATA_KEY);
        }
        byte[] header = header(sorted, metadata == null ? Map.of() : metadata);
        Path absolute = path.toAbsolutePath();
        Path directory = absolute.getParent();
        Path temp;
        try {
            temp = Files.createTempFile(directory, "." + absolute.getFileName() + ".", ".tmp");
        } catch (IOException e) {
            throw new UncheckedIOException("cannot create temporary file: directory=" + directory, e);
        }
        boolean moved = false;
        try {
            try (FileChannel channel = FileChannel.open(temp, StandardOpenOption.WRITE,
                    StandardOpenOption.TRUNCATE_EXISTING)) {
                ByteBuffer prefix = ByteBuffer.allocate(PREFIX_BYTES).order(ByteOrder.LITTLE_ENDIAN);
                prefix.putLong(header.length).flip();
                writeFully(channel, prefix);
                writeFully(channel, ByteBuffer.wrap(header));
                for (Tensor tensor : sorted.values()) {
                    writeData(channel, tensor);
                }
                channel.force(true);
            }
            Files.move(temp, absolute, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            moved = true;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write safetensors file: file=" + path, e);
        } finally {
            if (!moved) {
                try {
                    Files.deleteIfExists(temp);
                } catch (IOException ignored) {
                    // The original failure matters more; the temporary file's name starts with '.'.
                }
            }
        }
    }

    private static byte[] header(Map<String, Tensor> sorted, Map<String, String> metadata) {
        ObjectNode root = JSON.createObjectNode();
        if (!metadata.isEmpty()) {
            ObjectNode meta = root.putObject(METADATA_KEY);
            new TreeMap<>(metadata).forEach(meta::put);
        }
        long offset = 0;
        for (Map.Entry<String, Tensor> entry : sorted.entrySet()) {
            Tensor tensor = entry.getValue();
            ObjectNode node = root.putObject(entry.getKey());
            node.put("dtype", tensor.dtype().safetensorsName());
            ArrayNode shape = node.putArray("shape");
            for (long dim : tensor.shape().dimsUnsafe()) {
                shape.add(dim);
            }
            ArrayNode offsets = node.putArray("data_offsets");
            offsets.add(offset);
            offset += tensor.byteSize();
            offsets.add(offset);
        }
        byte[] json;
        try {
            json = JSON.writeValueAsBytes(root);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("cannot encode safetensors header", e);
        }
        int padded = (PREFIX_BYTES + json.length + ALIGNMENT_BYTES - 1) / ALIGNMENT_BYTES * ALIGNMENT_BYTES
                - PREFIX_BYTES;
        byte[] header = Arrays.copyOf(json, padded);
        Arrays.fill(header, json.length, padded, (byte) ' ');
        return header;
    }

    private static void writeData(FileChannel channel, Tensor tensor) throws IOException {
        tensor.checkUsable();
        if (tensor.byteSize() == 0) {
            return;
        }
        if (tensor.device().isHost() && tensor.isContiguous()) {
            writeSegment(channel, tensor.segment());
            return;
        }
        try (Arena arena = Arena.ofConfined()) {
            Tensor staging = Tensor.wrap(arena.allocate(tensor.byteSize(), Allocator.HOST_ALIGNMENT_BYTES),
                    tensor.dtype(), tensor.shape());
            staging.copyFrom(tensor);
            writeSegment(channel, staging.segment());
        }
    }

    private static void writeSegment(FileChannel channel, MemorySegment segment) throws IOException {
        for (long offset = 0; offset < segment.byteSize(); offset += WRITE_SLICE_BYTES) {
            long length = Math.min(WRITE_SLICE_BYTES, segment.byteSize() - offset);
            writeFully(channel, segment.asSlice(offset, length).asByteBuffer());
        }
    }

    private static void writeFully(FileChannel channel, ByteBuffer buffer) throws IOException {
        while (buffer.hasRemaining()) {
            channel.write(buffer);
        }
    }
}
