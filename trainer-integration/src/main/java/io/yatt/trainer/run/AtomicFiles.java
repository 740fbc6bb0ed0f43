package io.yatt.trainer.run;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.channels.FileChannel;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;

/** Whole-file replacement that readers never see half done: write a temporary sibling, fsync, rename over. */
final class AtomicFiles {

    /** Writes the content of a file to a stream. */
    @FunctionalInterface
    interface Content {
        void writeTo(OutputStream out) throws IOException;
    }

    private AtomicFiles() {
    }

    /** The suffix of this process's temporary siblings: {@code .tmp-<pid>}. */
    static String temporarySuffix() {
        return ".tmp-" + ProcessHandle.current().pid();
    }

    /**
     * Replaces {@code target} with {@code content}: written to {@code target.tmp-<pid>}, fsynced, renamed atomically,
     * and the folder fsynced. On failure the temporary file is removed and {@code target} is unchanged.
     */
    static void write(Path target, Content content) throws IOException {
        Path temporary = target.resolveSibling(target.getFileName() + temporarySuffix());
        try {
            try (OutputStream out = Files.newOutputStream(temporary)) {
                content.writeTo(out);
            }
            fsync(temporary);
            move(temporary, target);
            fsyncFolder(target.toAbsolutePath().getParent());
        } finally {
            Files.deleteIfExists(temporary);
        }
    }

    /** {@link #write(Path, Content)} of a UTF-8 string. */
    static void writeString(Path target, String text) throws IOException {
        write(target, out -> out.write(text.getBytes(java.nio.charset.StandardCharsets.UTF_8)));
    }

    /** Renames atomically, replacing {@code target} if it is a file. */
    static void move(Path source, Path target) throws IOException {
        try {
            Files.move(source, target, StandardCopyOption.ATOMIC_MOVE);
        } catch (AtomicMoveNotSupportedException e) {
            throw new IOException("file system cannot rename atomically: source=" + source + ", target=" + target, e);
        }
    }

    /** Forces a file's content to the device. */
    static void fsync(Path file) throws IOException {
        try (FileChannel channel = FileChannel.open(file, StandardOpenOption.WRITE)) {
            channel.force(true);
        }
    }

    /** Forces a folder's entries (creations, renames) to the device, where the platform allows opening folders. */
    static void fsyncFolder(Path folder) throws IOException {
        try (FileChannel channel = FileChannel.open(folder, StandardOpenOption.READ)) {
            channel.force(true);
        } catch (IOException e) {
            // Some platforms (Windows) cannot open a folder as a channel; the rename is still atomic there.
            if (!System.getProperty("os.name", "").startsWith("Windows")) {
                throw e;
            }
        }
    }

    /** Deletes a folder tree; a missing folder is fine. */
    static void deleteTree(Path root) throws IOException {
        if (!Files.exists(root)) {
            return;
        }
        Files.walkFileTree(root, new SimpleFileVisitor<>() {
            @Override
            public FileVisitResult visitFile(Path file, BasicFileAttributes attrs) throws IOException {
                Files.deleteIfExists(file);
                return FileVisitResult.CONTINUE;
            }

            @Override
            public FileVisitResult postVisitDirectory(Path dir, IOException exc) throws IOException {
                if (exc != null) {
                    throw exc;
                }
                try {
                    Files.deleteIfExists(dir);
                } catch (NoSuchFileException ignored) {
                    // already gone
                }
                return FileVisitResult.CONTINUE;
            }
        });
    }
}
