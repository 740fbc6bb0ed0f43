package io.yatt.controller;

import io.aeron.CommonContext;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.function.LongPredicate;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/** Checks and defaults that the control plane's and the worker's contexts share. */
final class Contexts {

    private Contexts() {
    }

    /**
     * Checks a shared secret's length (no secret is fine).
     *
     * @throws IllegalArgumentException if {@code secret} is shorter than {@link ControlPlane#MIN_SECRET_BYTES}
     */
    static void requireSecretLength(byte[] secret) {
        if (secret != null && secret.length < ControlPlane.MIN_SECRET_BYTES) {
            throw new IllegalArgumentException("shared secret too short: bytes=" + secret.length
                    + ", min=" + ControlPlane.MIN_SECRET_BYTES);
        }
    }

    /**
     * Checks the largest tensor sent inline.
     *
     * @throws IllegalArgumentException if {@code inlineLimitBytes} is negative
     */
    static void requireInlineLimit(long inlineLimitBytes) {
        if (inlineLimitBytes < 0) {
            throw new IllegalArgumentException("inline limit must be non-negative: inlineLimitBytes="
                    + inlineLimitBytes);
        }
    }

    /** This host's name, or {@code localhost} when it does not resolve. */
    static String localHostName() {
        try {
            return InetAddress.getLocalHost().getHostName();
        } catch (UnknownHostException e) {
            return "localhost";
        }
    }

    /** How a yatt embedded driver's directory ends: {@code -p<pid>-<random hex>}. */
    private static final Pattern DRIVER_SUFFIX = Pattern.compile(".*-p(\\d+)-[0-9a-f]+");
    /** A driver whose CnC heartbeat is older than this is not running. */
    private static final long DRIVER_TIMEOUT_MS = 10_000;

    /**
     * A new directory for an embedded driver: Aeron's default directory, {@code -yatt-}, {@code name}, {@code -p} and
     * this process's pid, a random id.
     */
    static String embeddedDriverDirectory(String name) {
        return CommonContext.getAeronDirectoryName() + "-yatt-" + name + "-p" + ProcessHandle.current().pid() + "-"
                + Long.toHexString(new SecureRandom().nextLong());
    }

    /**
     * Removes the embedded driver directories that yatt processes on this host left when they died without closing
     * (SIGKILL, out of memory): beside Aeron's default directory, named as {@link #embeddedDriverDirectory} makes
     * them, whose process is gone and whose driver has not heartbeated for {@value #DRIVER_TIMEOUT_MS} ms. Best
     * effort (another process may remove one at the same time): a directory that cannot be read or removed is
     * skipped. Called when a control plane or a worker starts and closes.
     *
     * @return the directories removed
     */
    static List<Path> removeDeadDriverDirectories() {
        return removeDriverDirectories(pid -> true, true);
    }

    /**
     * Removes the embedded driver directories of process {@code pid} on this host, which the caller knows has exited
     * (it reaped it: a launcher after the process ended), without waiting for its driver's heartbeat to go stale as
     * {@link #removeDeadDriverDirectories} must; nothing while a process of that pid is alive.
     *
     * @return the directories removed
     */
    static List<Path> removeDriverDirectoriesOf(long pid) {
        return removeDriverDirectories(p -> p == pid, false);
    }

    private static List<Path> removeDriverDirectories(LongPredicate pids, boolean staleOnly) {
        List<Path> removed = new ArrayList<>();
        Path own = Path.of(CommonContext.getAeronDirectoryName()).toAbsolutePath();
        Path parent = own.getParent();
        if (parent == null || !Files.isDirectory(parent)) {
            return removed;
        }
        String prefix = own.getFileName() + "-yatt-";
        try (Stream<Path> entries = Files.list(parent)) {
            for (Path dir : entries.toList()) {
                String name = dir.getFileName().toString();
                Matcher m = DRIVER_SUFFIX.matcher(name);
                if (!name.startsWith(prefix) || !m.matches()) {
                    continue;
                }
                long pid = Long.parseLong(m.group(1));
                boolean alive = ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false);
                if (!pids.test(pid) || alive
                        || staleOnly && CommonContext.isDriverActive(dir.toFile(), DRIVER_TIMEOUT_MS, message -> { })) {
                    continue;
                }
                if (deleteTree(dir)) {
                    removed.add(dir);
                }
            }
        } catch (IOException | UncheckedIOException | NumberFormatException e) {
            // best effort: what is left is left for the next start
        }
        return removed;
    }

    private static boolean deleteTree(Path root) {
        try (Stream<Path> walk = Files.walk(root)) {
            for (Path p : walk.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
            return true;
        } catch (IOException | UncheckedIOException e) {
            return false;
        }
    }
}
