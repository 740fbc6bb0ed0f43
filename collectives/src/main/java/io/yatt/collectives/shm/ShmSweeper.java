package io.yatt.collectives.shm;

import io.yatt.collectives.ShmContext;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * Removes leftover Yatt regions: files named {@code yatt-*} whose owner pid (from the header) is no longer alive.
 * Run at communicator start-up; regions of live processes are never touched. Stateless and thread-safe.
 */
public final class ShmSweeper {
    /** Where POSIX shared memory lives on Linux. */
    public static final Path DEFAULT_DIRECTORY = ShmContext.DEFAULT_DIRECTORY;
    /** A file too short to hold an owner pid is removed only when older than this (it is being created otherwise). */
    static final long HEADERLESS_GRACE_MS = 60_000;

    private ShmSweeper() {
    }

    /**
     * Deletes every {@code yatt-*} file in {@code directory} whose owner process is dead.
     *
     * @return the deleted paths
     */
    public static List<Path> sweep(Path directory) {
        List<Path> removed = new ArrayList<>();
        if (!Files.isDirectory(directory)) {
            return removed;
        }
        try (DirectoryStream<Path> files = Files.newDirectoryStream(directory, ShmRegionDescriptor.NAME_PREFIX + "*")) {
            for (Path file : files) {
                if (isStale(file)) {
                    try {
                        if (Files.deleteIfExists(file)) {
                            removed.add(file);
                        }
                    } catch (IOException ignored) {
                        // another sweeper won the race or no permission: not ours to force
                    }
                }
            }
        } catch (IOException ignored) {
            // an unreadable directory has nothing we can sweep
        }
        return removed;
    }

    /** Lists the {@code yatt-*} files in {@code directory} whose name starts with {@code prefix}. */
    public static List<Path> list(Path directory, String prefix) {
        List<Path> result = new ArrayList<>();
        try (DirectoryStream<Path> files = Files.newDirectoryStream(directory, prefix + "*")) {
            files.forEach(result::add);
        } catch (IOException ignored) {
            // nothing to list
        }
        return result;
    }

    static boolean isStale(Path file) {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            if (ch.size() < ShmRegionDescriptor.OWNER_PID_OFFSET + Long.BYTES) {
                long ageMs = System.currentTimeMillis() - Files.getLastModifiedTime(file).toMillis();
                return ageMs > HEADERLESS_GRACE_MS;
            }
            ByteBuffer buf = ByteBuffer.allocate(Long.BYTES).order(ByteOrder.LITTLE_ENDIAN);
            ch.read(buf, ShmRegionDescriptor.OWNER_PID_OFFSET);
            long pid = buf.getLong(0);
            if (pid <= 0) {
                long ageMs = System.currentTimeMillis() - Files.getLastModifiedTime(file).toMillis();
                return ageMs > HEADERLESS_GRACE_MS;
            }
            Optional<ProcessHandle> owner = ProcessHandle.of(pid);
            return owner.isEmpty() || !owner.get().isAlive();
        } catch (NoSuchFileException e) {
            return false;
        } catch (IOException e) {
            return false;
        }
    }
}
