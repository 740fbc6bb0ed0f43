package io.yatt.trainer.run;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import java.util.zip.CRC32C;

/**
 * The checkpoints of one run, in verl's layout: {@code global_step_<k>/} folders plus
 * {@code latest_checkpointed_iteration.txt}. A checkpoint is written into {@code global_step_<k>.tmp-<pid>}, every
 * file fsynced and listed with its size and CRC32C in {@value #MANIFEST}, then renamed into place in one atomic step;
 * the tracker file is replaced atomically after that. A crash at any point leaves the previous checkpoint valid, and
 * a half-written folder never carries a {@code global_step_<k>} name. Not thread-safe: one writer per run.
 */
public final class CheckpointStore {

    /** The manifest file of every checkpoint folder. */
    public static final String MANIFEST = "manifest.json";
    /** verl's tracker file: the step of the latest published checkpoint. */
    public static final String LATEST = "latest_checkpointed_iteration.txt";
    /** Prefix of checkpoint folder names. */
    public static final String PREFIX = "global_step_";
    /** Version of the manifest format. */
    public static final int FORMAT = 1;

    private static final Pattern NAME = Pattern.compile(Pattern.quote(PREFIX) + "(\\d+)");
    private static final Pattern LEFTOVER = Pattern.compile(Pattern.quote(PREFIX)
            + "\\d+\\.(tmp|old|staging)-(\\d+)");
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final int BUFFER_BYTES = 1 << 16;

    private final Path folder;

    private CheckpointStore(Path folder) {
        this.folder = folder;
    }

    /**
     * The store in {@code folder}, created if missing.
     *
     * @throws UncheckedIOException if the folder cannot be created
     */
    public static CheckpointStore at(Path folder) {
        try {
            Files.createDirectories(folder);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot create checkpoint folder: path=" + folder, e);
        }
        return new CheckpointStore(folder);
    }

    /** The folder holding the checkpoints. */
    public Path folder() {
        return folder;
    }

    /**
     * A folder beside the checkpoints where the ranks of a job (the workers of every controller, in any process that
     * sees this folder) write the files of step {@code step}'s checkpoint before this process publishes them with
     * {@link #write}: {@code global_step_<k>.staging-<pid>}, never a checkpoint's name, and removed by
     * {@link #removeStaleTemporaries} once its process is gone. The caller creates and deletes it.
     */
    public Path stagingFolder(long step) {
        return folder.resolve(PREFIX + step + ".staging-" + ProcessHandle.current().pid());
    }

    /** The folder a checkpoint of {@code step} is published as. */
    public Path pathOf(long step) {
        return folder.resolve(PREFIX + step);
    }

    /**
     * Writes and publishes the checkpoint of {@code step}. A checkpoint of the same step already published (a run
     * resumed from an earlier step) is replaced.
     *
     * @param meta values a resuming run checks with {@link Checkpoint#requireMeta(Map)}
     * @throws IllegalArgumentException if {@code step < 0} or the payload wrote {@value #MANIFEST} or a link
     * @throws UncheckedIOException if writing fails; the temporary folder is removed and the previous checkpoint is
     *         untouched
     */
    public Checkpoint write(long step, Map<String, String> meta, CheckpointPayload payload) {
        if (step < 0) {
            throw new IllegalArgumentException("checkpoint step must be >= 0: step=" + step);
        }
        Path target = pathOf(step);
        Path temporary = folder.resolve(PREFIX + step + AtomicFiles.temporarySuffix());
        boolean published = false;
        try {
            AtomicFiles.deleteTree(temporary);
            Files.createDirectories(temporary);
            payload.writeTo(temporary);
            if (Files.exists(temporary.resolve(MANIFEST), LinkOption.NOFOLLOW_LINKS)) {
                throw new IllegalArgumentException("checkpoint payload wrote the reserved file: file=" + MANIFEST);
            }
            List<String> names = payloadFiles(temporary);
            ObjectNode manifest = JSON.createObjectNode();
            manifest.put("format", FORMAT);
            manifest.put("step", step);
            ObjectNode metaNode = manifest.putObject("meta");
            new TreeMap<>(meta).forEach(metaNode::put);
            ArrayNode files = manifest.putArray("files");
            for (String name : names) {
                Path file = temporary.resolve(name);
                AtomicFiles.fsync(file);
                ObjectNode entry = files.addObject();
                entry.put("name", name);
                entry.put("bytes", Files.size(file));
                entry.put("crc32c", hex(crc32c(file)));
            }
            Path manifestFile = temporary.resolve(MANIFEST);
            Files.writeString(manifestFile, JSON.writerWithDefaultPrettyPrinter().writeValueAsString(manifest) + "\n");
            AtomicFiles.fsync(manifestFile);
            fsyncFolders(temporary);
            publish(temporary, target, step);
            published = true;
            AtomicFiles.writeString(folder.resolve(LATEST), Long.toString(step));
            return new Checkpoint(target, step, meta, names);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write checkpoint: path=" + target + ", error=" + e.getMessage(), e);
        } finally {
            if (!published) {
                try {
                    AtomicFiles.deleteTree(temporary);
                } catch (IOException ignored) {
                    // The leftover has no global_step_<k> name and removeStaleTemporaries() clears it later.
                }
            }
        }
    }

    private void publish(Path temporary, Path target, long step) throws IOException {
        if (Files.exists(target, LinkOption.NOFOLLOW_LINKS)) {
            Path old = folder.resolve(PREFIX + step + ".old-" + ProcessHandle.current().pid());
            AtomicFiles.deleteTree(old);
            AtomicFiles.move(target, old);
            AtomicFiles.move(temporary, target);
            AtomicFiles.fsyncFolder(folder);
            AtomicFiles.deleteTree(old);
        } else {
            AtomicFiles.move(temporary, target);
            AtomicFiles.fsyncFolder(folder);
        }
    }

    /**
     * Opens and verifies a checkpoint folder.
     *
     * @throws CheckpointException naming the folder and the first problem: missing folder or manifest, unreadable or
     *         unsupported manifest, a step that differs from the folder name, a missing, resized, corrupt or
     *         unlisted file
     */
    public static Checkpoint open(Path path) {
        if (!Files.isDirectory(path)) {
            throw new CheckpointException("checkpoint folder not found: path=" + path);
        }
        Path manifestFile = path.resolve(MANIFEST);
        if (!Files.isRegularFile(manifestFile)) {
            throw new CheckpointException("checkpoint has no " + MANIFEST + " (incomplete write?): path=" + path);
        }
        JsonNode manifest;
        try {
            manifest = JSON.readTree(manifestFile.toFile());
        } catch (IOException e) {
            throw new CheckpointException("checkpoint manifest is not valid JSON: path=" + path + ", error="
                    + e.getMessage(), e);
        }
        int format = manifest.path("format").asInt(-1);
        if (format != FORMAT) {
            throw new CheckpointException("checkpoint manifest format unsupported: path=" + path + ", format="
                    + manifest.path("format") + ", expected=" + FORMAT);
        }
        if (!manifest.path("step").canConvertToLong() || !manifest.path("files").isArray()
                || !manifest.path("meta").isObject()) {
            throw new CheckpointException("checkpoint manifest lacks step, meta or files: path=" + path);
        }
        long step = manifest.get("step").longValue();
        Matcher matcher = NAME.matcher(path.getFileName().toString());
        if (matcher.matches() && Long.parseLong(matcher.group(1)) != step) {
            throw new CheckpointException("checkpoint step does not match its folder: path=" + path
                    + ", manifest step=" + step + ", folder step=" + matcher.group(1));
        }
        Map<String, String> meta = new TreeMap<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = manifest.get("meta").properties().iterator(); it.hasNext();) {
            Map.Entry<String, JsonNode> entry = it.next();
            meta.put(entry.getKey(), entry.getValue().asText());
        }
        List<String> listed = new ArrayList<>();
        for (JsonNode entry : manifest.get("files")) {
            String name = entry.path("name").asText();
            Path file = path.resolve(name).normalize();
            if (name.isEmpty() || !file.startsWith(path.normalize()) || file.equals(path.normalize())) {
                throw new CheckpointException("checkpoint manifest names a file outside its folder: path=" + path
                        + ", file=" + name);
            }
            if (!Files.isRegularFile(file, LinkOption.NOFOLLOW_LINKS)) {
                throw new CheckpointException("checkpoint file missing: path=" + path + ", file=" + name);
            }
            try {
                long expectedBytes = entry.path("bytes").asLong(-1);
                long actualBytes = Files.size(file);
                if (actualBytes != expectedBytes) {
                    throw new CheckpointException("checkpoint file has the wrong size: path=" + path + ", file=" + name
                            + ", expected=" + expectedBytes + ", actual=" + actualBytes);
                }
                String expectedCrc = entry.path("crc32c").asText();
                String actualCrc = hex(crc32c(file));
                if (!actualCrc.equals(expectedCrc)) {
                    throw new CheckpointException("checkpoint file corrupt: path=" + path + ", file=" + name
                            + ", crc32c expected=" + expectedCrc + ", actual=" + actualCrc);
                }
            } catch (IOException e) {
                throw new CheckpointException("checkpoint file unreadable: path=" + path + ", file=" + name
                        + ", error=" + e.getMessage(), e);
            }
            listed.add(name);
        }
        try {
            for (String name : payloadFiles(path)) {
                if (!name.equals(MANIFEST) && !listed.contains(name)) {
                    throw new CheckpointException("checkpoint holds a file its manifest does not list: path=" + path
                            + ", file=" + name);
                }
            }
        } catch (IOException e) {
            throw new CheckpointException("checkpoint folder unreadable: path=" + path + ", error=" + e.getMessage(), e);
        }
        return new Checkpoint(path, step, meta, listed.stream().sorted().toList());
    }

    /**
     * The newest checkpoint that verifies, for {@code resume_mode=auto}: published folders are tried from the highest
     * step down; temporary folders are never considered.
     *
     * @throws UncheckedIOException if the folder cannot be listed
     */
    public Resolution latestValid() {
        List<String> skipped = new ArrayList<>();
        for (long step : publishedSteps()) {
            try {
                return new Resolution(Optional.of(open(pathOf(step))), skipped);
            } catch (CheckpointException e) {
                skipped.add(e.getMessage());
            }
        }
        return new Resolution(Optional.empty(), skipped);
    }

    /** Steps of the folders named {@code global_step_<k>}, highest first (verified or not). */
    public List<Long> publishedSteps() {
        try (Stream<Path> entries = Files.list(folder)) {
            return entries.map(p -> NAME.matcher(p.getFileName().toString()))
                    .filter(Matcher::matches)
                    .map(m -> Long.parseLong(m.group(1)))
                    .sorted(Comparator.reverseOrder())
                    .toList();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot list checkpoint folder: path=" + folder, e);
        }
    }

    /**
     * The step in {@value #LATEST}, if the file exists.
     *
     * @throws CheckpointException if the file does not hold a step
     */
    public OptionalLong latestRecorded() {
        Path file = folder.resolve(LATEST);
        if (!Files.exists(file)) {
            return OptionalLong.empty();
        }
        String text;
        try {
            text = Files.readString(file).trim();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read checkpoint tracker: path=" + file, e);
        }
        try {
            return OptionalLong.of(Long.parseLong(text));
        } catch (NumberFormatException e) {
            throw new CheckpointException("checkpoint tracker does not hold a step: path=" + file + ", text=" + text, e);
        }
    }

    /**
     * Removes folders left by writers that died mid-write ({@code global_step_<k>.tmp-<pid>}, {@code .old-<pid>} and
     * {@link #stagingFolder staging} folders of processes no longer alive, or of this process).
     *
     * @return the removed folders
     * @throws UncheckedIOException if one cannot be removed
     */
    public List<Path> removeStaleTemporaries() {
        List<Path> removed = new ArrayList<>();
        long self = ProcessHandle.current().pid();
        try (Stream<Path> entries = Files.list(folder)) {
            for (Path entry : entries.toList()) {
                Matcher matcher = LEFTOVER.matcher(entry.getFileName().toString());
                if (matcher.matches()) {
                    long pid = Long.parseLong(matcher.group(2));
                    if (pid == self || ProcessHandle.of(pid).map(h -> !h.isAlive()).orElse(true)) {
                        AtomicFiles.deleteTree(entry);
                        removed.add(entry);
                    }
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot remove stale checkpoint folders: path=" + folder, e);
        }
        return removed;
    }

    private static List<String> payloadFiles(Path root) throws IOException {
        List<String> names = new ArrayList<>();
        try (Stream<Path> walk = Files.walk(root)) {
            for (Path p : walk.toList()) {
                if (Files.isSymbolicLink(p)) {
                    throw new IllegalArgumentException("checkpoint payload holds a link: file=" + root.relativize(p));
                }
                if (Files.isRegularFile(p, LinkOption.NOFOLLOW_LINKS)) {
                    String name = root.relativize(p).toString().replace('\\', '/');
                    if (!name.equals(MANIFEST)) {
                        names.add(name);
                    }
                }
            }
        }
        names.sort(null);
        return names;
    }

    private static void fsyncFolders(Path root) throws IOException {
        try (Stream<Path> walk = Files.walk(root)) {
            for (Path p : walk.toList()) {
                if (Files.isDirectory(p, LinkOption.NOFOLLOW_LINKS)) {
                    AtomicFiles.fsyncFolder(p);
                }
            }
        }
    }

    static long crc32c(Path file) throws IOException {
        CRC32C crc = new CRC32C();
        byte[] buffer = new byte[BUFFER_BYTES];
        try (InputStream in = Files.newInputStream(file)) {
            for (int n = in.read(buffer); n >= 0; n = in.read(buffer)) {
                crc.update(buffer, 0, n);
            }
        }
        return crc.getValue();
    }

    private static String hex(long crc) {
        return String.format("%08x", crc);
    }

    /**
     * The outcome of {@link #latestValid()}.
     *
     * @param checkpoint the newest checkpoint that verified, if any
     * @param skipped why each newer folder was passed over, newest first
     */
    public record Resolution(Optional<Checkpoint> checkpoint, List<String> skipped) {

        /** Copies the list. */
        public Resolution {
            skipped = List.copyOf(skipped);
        }
    }
}
