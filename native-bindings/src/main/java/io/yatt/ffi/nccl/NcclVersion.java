package io.yatt.ffi.nccl;

/**
 * An NCCL version, as {@code ncclGetVersion} reports it. Immutable.
 *
 * @param major major version
 * @param minor minor version
 * @param patch patch level
 */
public record NcclVersion(int major, int minor, int patch) {

    /**
     * Decodes {@code NCCL_VERSION_CODE}: {@code major*10000 + minor*100 + patch} from 2.9 on,
     * {@code major*1000 + minor*100 + patch} before.
     *
     * @param code the version code, e.g. {@code 23007}
     * @return the version, e.g. 2.30.7
     */
    public static NcclVersion fromCode(int code) {
        if (code >= 10000) {
            return new NcclVersion(code / 10000, code % 10000 / 100, code % 100);
        }
        return new NcclVersion(code / 1000, code % 1000 / 100, code % 100);
    }

    /** @return the version code NCCL uses, e.g. {@code 23007} */
    public int code() {
        return major <= 2 && minor <= 8 ? major * 1000 + minor * 100 + patch : major * 10000 + minor * 100 + patch;
    }

    /** @return {@code major.minor.patch} */
    @Override
    public String toString() {
        return major + "." + minor + "." + patch;
    }
}
