package io.yatt.tensor;

/**
 * Where a tensor's memory lives: the host, or one CUDA device by ordinal. Values; thread-safe.
 */
public sealed interface Device permits Device.HostDevice, Device.CudaDevice {

    /** The host (CPU memory, pageable or pinned). */
    static Device host() {
        return HostDevice.INSTANCE;
    }

    /**
     * The CUDA device with the given ordinal.
     *
     * @throws IllegalArgumentException if the ordinal is negative
     */
    static Device cuda(int ordinal) {
        return new CudaDevice(ordinal);
    }

    /**
     * Parses {@code "host"}, {@code "cpu"} (both the host) or {@code "cuda:N"}.
     *
     * @throws IllegalArgumentException naming the value and the expected forms
     */
    static Device parse(String value) {
        if (value == null) {
            throw new IllegalArgumentException("invalid device: value=null, expected host, cpu or cuda:N");
        }
        String trimmed = value.trim();
        if (trimmed.equals("host") || trimmed.equals("cpu")) {
            return host();
        }
        if (trimmed.startsWith("cuda:")) {
            String digits = trimmed.substring("cuda:".length());
            if (!digits.isEmpty() && digits.length() <= 9 && digits.chars().allMatch(c -> c >= '0' && c <= '9')) {
                return cuda(Integer.parseInt(digits));
            }
        }
        throw new IllegalArgumentException("invalid device: value=" + value + ", expected host, cpu or cuda:N");
    }

    /** Whether this is the host. */
    boolean isHost();

    /** The CUDA device ordinal, or -1 for the host. */
    int ordinal();

    /** The host device. */
    record HostDevice() implements Device {
        static final HostDevice INSTANCE = new HostDevice();

        @Override
        public boolean isHost() {
            return true;
        }

        @Override
        public int ordinal() {
            return -1;
        }

        @Override
        public String toString() {
            return "host";
        }
    }

    /**
     * One CUDA device.
     *
     * @param ordinal the CUDA device ordinal, at least 0
     */
    record CudaDevice(int ordinal) implements Device {
        /** @throws IllegalArgumentException if the ordinal is negative */
        public CudaDevice {
            if (ordinal < 0) {
                throw new IllegalArgumentException("invalid device ordinal: ordinal=" + ordinal + ", expected >= 0");
            }
        }

        @Override
        public boolean isHost() {
            return false;
        }

        @Override
        public String toString() {
            return "cuda:" + ordinal;
        }
    }
}
