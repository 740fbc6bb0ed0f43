package io.yatt.ffi;

import java.util.List;

/**
 * Thrown when a native library (CUDA runtime, NCCL) could not be found or loaded; the message lists
 * every place that was tried and how to point at the file. Immutable and safe to share.
 */
public final class LibraryNotFoundException extends YattNativeException {
    private static final long serialVersionUID = 1L;

    private final String library;
    private final transient List<String> searchReport;

    LibraryNotFoundException(String library, String message, List<String> searchReport) {
        super(message);
        this.library = library;
        this.searchReport = List.copyOf(searchReport);
    }

    /** @return the short library name, e.g. {@code cudart} or {@code nccl} */
    public String library() {
        return library;
    }

    /** @return one line per step of the search, in search order */
    public List<String> searchReport() {
        return searchReport;
    }
}
