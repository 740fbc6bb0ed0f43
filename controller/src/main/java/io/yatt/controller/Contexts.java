package io.yatt.controller;

import io.aeron.CommonContext;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.security.SecureRandom;

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

    /** A new directory for an embedded driver: Aeron's default directory, {@code -yatt-}, {@code name}, a random id. */
    static String embeddedDriverDirectory(String name) {
        return CommonContext.getAeronDirectoryName() + "-yatt-" + name + "-"
                + Long.toHexString(new SecureRandom().nextLong());
    }
}
