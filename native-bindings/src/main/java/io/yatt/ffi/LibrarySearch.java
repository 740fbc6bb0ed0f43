package io.yatt.ffi;

import java.io.IOException;
import java.io.InputStream;
import java.lang.foreign.Arena;
import java.lang.foreign.SymbolLookup;
import java.net.URL;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashSet;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.TimeUnit;

/**
 * Searches one native library in a fixed order and records every step: the system property and the
 * environment variable naming the file; the platform loader path ({@code java.library.path},
 * {@code LD_LIBRARY_PATH}, the {@code ldconfig} cache, {@code dlopen} by soname); the CUDA toolkit's
 * standard folders; Python {@code site-packages/nvidia/*}{@code /lib} folders; JavaCPP's CUDA redist
 * jars when they are on the class path. A file named by the property or the environment variable
 * wins: if it cannot be used, the search fails even when another copy exists elsewhere.
 *
 * <p>A search is configured fluently, then run once by {@link #load()}; instances are confined to the
 * creating thread. {@link NativeLibraries} runs and caches the searches the bindings use.
 */
@SuppressWarnings("restricted")
public final class LibrarySearch {
    private static final byte[] ELF_MAGIC = {0x7f, 'E', 'L', 'F'};
    private static final int ELF_CLASS_64 = 2;
    private static final long LDCONFIG_TIMEOUT_MS = 2_000;
    private static final String JAVACPP_CUDA_RESOURCE_DIR = "org/bytedeco/cuda/linux-x86_64/";

    private final LibrarySpec spec;
    private Map<String, String> properties;
    private Map<String, String> environment;
    private Path userHome;
    private List<Path> toolkitParents = List.of(Path.of("/usr/local"));
    private List<Path> systemLibraryDirs = List.of(Path.of("/usr/lib/x86_64-linux-gnu"), Path.of("/usr/lib64"));
    private List<Path> pythonRoots = List.of(Path.of("/usr/lib"), Path.of("/usr/local/lib"), Path.of("/opt/conda/lib"));
    private boolean platformLoader = true;
    private ClassLoader classLoader;

    private final List<String> report = new ArrayList<>();
    private final Set<Path> triedDirs = new HashSet<>();
    private String explicitSetting;
    private NativeLibrary found;

    private LibrarySearch(LibrarySpec spec) {
        this.spec = Objects.requireNonNull(spec, "spec");
        this.properties = systemPropertiesView();
        this.environment = System.getenv();
        this.userHome = Path.of(System.getProperty("user.home", "/nonexistent"));
        this.classLoader = LibrarySearch.class.getClassLoader();
    }

    /**
     * Starts a search with this JVM's system properties and environment.
     *
     * @param spec what to search for
     * @return a search to configure and {@link #load()}
     */
    public static LibrarySearch of(LibrarySpec spec) {
        return new LibrarySearch(spec);
    }

    /** @param properties the system properties to read (replaces the JVM's); @return this */
    public LibrarySearch properties(Map<String, String> properties) {
        this.properties = Map.copyOf(properties);
        return this;
    }

    /** @param environment the environment variables to read (replaces the process's); @return this */
    public LibrarySearch environment(Map<String, String> environment) {
        this.environment = Map.copyOf(environment);
        return this;
    }

    /** @param userHome the home folder whose {@code .local}, {@code .pyenv}, conda and {@code .javacpp} folders are searched; @return this */
    public LibrarySearch userHome(Path userHome) {
        this.userHome = Objects.requireNonNull(userHome, "userHome");
        return this;
    }

    /** @param parents folders holding {@code cuda} and {@code cuda-X.Y} toolkits (default {@code /usr/local}); @return this */
    public LibrarySearch toolkitParents(List<Path> parents) {
        this.toolkitParents = List.copyOf(parents);
        return this;
    }

    /** @param dirs distribution library folders (default {@code /usr/lib/x86_64-linux-gnu}, {@code /usr/lib64}); @return this */
    public LibrarySearch systemLibraryDirs(List<Path> dirs) {
        this.systemLibraryDirs = List.copyOf(dirs);
        return this;
    }

    /** @param roots folders holding {@code python3.*} installations (default {@code /usr/lib}, {@code /usr/local/lib}, {@code /opt/conda/lib}); @return this */
    public LibrarySearch pythonRoots(List<Path> roots) {
        this.pythonRoots = List.copyOf(roots);
        return this;
    }

    /** @param enabled whether to ask the platform loader ({@code ldconfig} cache, {@code dlopen} by soname); @return this */
    public LibrarySearch platformLoader(boolean enabled) {
        this.platformLoader = enabled;
        return this;
    }

    /** @param loader class loader whose resources are checked for JavaCPP's CUDA redist libraries; @return this */
    public LibrarySearch classLoader(ClassLoader loader) {
        this.classLoader = loader;
        return this;
    }

    /**
     * Runs the search and loads the first usable file for the life of the JVM.
     *
     * @return the loaded library with the search report
     * @throws LibraryNotFoundException listing every step when no usable file was found, or when the
     *         file named by the property or environment variable cannot be used
     */
    public NativeLibrary load() {
        explicit("system property " + spec.propertyName(), properties.get(spec.propertyName()));
        if (found == null) {
            explicit("environment " + spec.environmentName(), environment.get(spec.environmentName()));
        }
        if (found == null) {
            searchLoaderPath();
        }
        if (found == null) {
            searchToolkit();
        }
        if (found == null) {
            searchPython();
        }
        if (found == null) {
            searchJavaCpp();
        }
        if (found != null) {
            return found;
        }
        throw new LibraryNotFoundException(spec.name(), failureMessage(), report);
    }

    private String failureMessage() {
        StringBuilder message = new StringBuilder();
        if (explicitSetting != null) {
            message.append(spec.name()).append(" library not usable: ").append(explicitSetting)
                    .append(" names a file that cannot be loaded; fix or unset it. Steps tried:");
        } else {
            message.append(spec.name()).append(" library not found: looked for ")
                    .append(String.join(", ", spec.fileNames()))
                    .append("; point at the file with -D").append(spec.propertyName()).append("=/path/to/")
                    .append(spec.fileNames().getFirst()).append(" or ").append(spec.environmentName())
                    .append("=/path/to/").append(spec.fileNames().getFirst());
            if (spec == LibrarySpec.NCCL || spec.name().equals("nccl")) {
                message.append(" (NCCL from a pip wheel: eval \"$(scripts/find-nccl.sh)\")");
            }
            message.append(". Steps tried:");
        }
        for (String step : report) {
            message.append("\n  ").append(step);
        }
        return message.toString();
    }

    // ---- step 1 and 2: a property or environment variable naming the file

    private void explicit(String source, String value) {
        if (value == null || value.isBlank()) {
            step(source + ": not set");
            return;
        }
        Path file;
        try {
            file = Path.of(value).toAbsolutePath();
        } catch (InvalidPathException e) {
            step(source + "=" + value + ": rejected: not a valid path (" + e.getMessage() + ")");
            explicitSetting = explicitSetting == null ? source + "=" + value : explicitSetting;
            return;
        }
        String why = tryFile(file, source);
        if (why == null) {
            return;
        }
        if (!why.isEmpty()) {
            step(source + "=" + value + ": rejected: " + why);
        }
        if (explicitSetting == null) {
            explicitSetting = source + "=" + value;
        }
    }

    // ---- step 3: the platform loader path

    private void searchLoaderPath() {
        for (String dir : splitPath(properties.get("java.library.path"))) {
            searchDir("java.library.path", Path.of(dir));
            if (found != null) {
                return;
            }
        }
        String ldLibraryPath = environment.get("LD_LIBRARY_PATH");
        if (ldLibraryPath == null || ldLibraryPath.isBlank()) {
            step("LD_LIBRARY_PATH: not set");
        } else {
            for (String dir : splitPath(ldLibraryPath)) {
                searchDir("LD_LIBRARY_PATH", Path.of(dir));
                if (found != null) {
                    return;
                }
            }
        }
        if (!platformLoader) {
            step("ldconfig cache and dlopen by soname: skipped (platform loader disabled)");
            return;
        }
        searchLdconfig();
        if (found == null) {
            searchDlopen();
        }
    }

    private void searchLdconfig() {
        Path ldconfig = firstExisting(Path.of("/sbin/ldconfig"), Path.of("/usr/sbin/ldconfig"));
        if (ldconfig == null) {
            step("ldconfig cache: no /sbin/ldconfig or /usr/sbin/ldconfig");
            return;
        }
        List<String> lines = new ArrayList<>();
        try {
            Process process = new ProcessBuilder(ldconfig.toString(), "-p").redirectErrorStream(true).start();
            try (InputStream in = process.getInputStream()) {
                String output = new String(in.readAllBytes(), StandardCharsets.UTF_8);
                lines.addAll(output.lines().toList());
            }
            if (!process.waitFor(LDCONFIG_TIMEOUT_MS, TimeUnit.MILLISECONDS)) {
                process.destroyForcibly();
                step("ldconfig cache: " + ldconfig + " -p did not finish within " + LDCONFIG_TIMEOUT_MS + " ms");
                return;
            }
        } catch (IOException e) {
            step("ldconfig cache: " + ldconfig + " -p failed: " + e.getMessage());
            return;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            step("ldconfig cache: interrupted");
            return;
        }
        boolean any = false;
        for (String fileName : spec.fileNames()) {
            for (String line : lines) {
                // "\tlibnccl.so.2 (libc6,x86-64) => /usr/lib/x86_64-linux-gnu/libnccl.so.2"
                String trimmed = line.strip();
                int arrow = trimmed.indexOf(" => ");
                if (arrow < 0 || !trimmed.startsWith(fileName + " (") || !trimmed.contains("x86-64")) {
                    continue;
                }
                any = true;
                Path file = Path.of(trimmed.substring(arrow + 4).strip());
                String why = tryFile(file, "ldconfig cache");
                if (why == null) {
                    return;
                }
                if (!why.isEmpty()) {
                    step("ldconfig cache " + file + ": rejected: " + why);
                }
            }
        }
        if (!any) {
            step("ldconfig cache: no x86-64 entry for " + String.join(", ", spec.fileNames()));
        }
    }

    private void searchDlopen() {
        if (explicitSetting != null) {
            step("dlopen by soname: skipped (" + explicitSetting + " takes precedence)");
            return;
        }
        for (String fileName : spec.fileNames()) {
            SymbolLookup lookup;
            try {
                lookup = SymbolLookup.libraryLookup(fileName, Arena.global());
            } catch (IllegalArgumentException e) {
                step("dlopen(\"" + fileName + "\"): " + e.getMessage());
                continue;
            }
            if (lookup.find(spec.markerSymbol()).isEmpty()) {
                step("dlopen(\"" + fileName + "\"): loaded but has no symbol " + spec.markerSymbol());
                continue;
            }
            Path resolved = mappedPathOf(fileName);
            Path path = resolved != null ? resolved : Path.of(fileName);
            step("dlopen(\"" + fileName + "\"): loaded " + path);
            found = new NativeLibrary(spec, path, "dlopen by soname", lookup, report, includeDirs(path));
            return;
        }
    }

    /** The file the dynamic loader mapped for a soname, read from {@code /proc/self/maps}. */
    private static Path mappedPathOf(String fileName) {
        Path maps = Path.of("/proc/self/maps");
        if (!Files.isReadable(maps)) {
            return null;
        }
        try {
            for (String line : Files.readAllLines(maps, StandardCharsets.UTF_8)) {
                int slash = line.indexOf('/');
                if (slash < 0) {
                    continue;
                }
                Path mapped = Path.of(line.substring(slash).strip());
                Path name = mapped.getFileName();
                if (name != null && name.toString().startsWith(fileName)) {
                    return mapped;
                }
            }
        } catch (IOException | InvalidPathException e) {
            return null;
        }
        return null;
    }

    // ---- step 4: CUDA toolkit folders

    private void searchToolkit() {
        if (!spec.cudaToolkit()) {
            step("CUDA toolkit folders: skipped (" + spec.name() + " is not part of the toolkit)");
            for (Path dir : systemLibraryDirs) {
                searchDir("system library folder", dir);
                if (found != null) {
                    return;
                }
            }
            return;
        }
        for (String variable : List.of("CUDA_HOME", "CUDA_PATH")) {
            String home = environment.get(variable);
            if (home == null || home.isBlank()) {
                step(variable + ": not set");
                continue;
            }
            for (String sub : List.of("lib64", "lib", "targets/x86_64-linux/lib")) {
                searchDir(variable, Path.of(home).resolve(sub));
                if (found != null) {
                    return;
                }
            }
        }
        for (Path parent : toolkitParents) {
            searchDir("CUDA toolkit", parent.resolve("cuda/lib64"));
            if (found != null) {
                return;
            }
            List<Path> versioned = glob(parent, "cuda-*");
            versioned.sort(VERSION_DESCENDING);
            for (Path toolkit : versioned) {
                searchDir("CUDA toolkit", toolkit.resolve("lib64"));
                if (found != null) {
                    return;
                }
            }
        }
        for (Path dir : systemLibraryDirs) {
            searchDir("system library folder", dir);
            if (found != null) {
                return;
            }
        }
    }

    /** Orders toolkit folders newest first, numerically: {@code cuda-13.0}, {@code cuda-12.10}, {@code cuda-12.8}. */
    private static final Comparator<Path> VERSION_DESCENDING = (a, b) -> {
        int[] va = versionOf(a.getFileName().toString());
        int[] vb = versionOf(b.getFileName().toString());
        for (int i = 0; i < Math.max(va.length, vb.length); i++) {
            int x = i < va.length ? va[i] : -1;
            int y = i < vb.length ? vb[i] : -1;
            if (x != y) {
                return Integer.compare(y, x);
            }
        }
        return b.compareTo(a);
    };

    private static int[] versionOf(String dirName) {
        String[] parts = dirName.substring(dirName.indexOf('-') + 1).split("\\.");
        int[] version = new int[parts.length];
        for (int i = 0; i < parts.length; i++) {
            try {
                version[i] = Integer.parseInt(parts[i]);
            } catch (NumberFormatException e) {
                version[i] = -1;
            }
        }
        return version;
    }

    // ---- step 5: Python site-packages nvidia/*/lib

    private void searchPython() {
        List<Path> sitePackages = new ArrayList<>();
        for (Path root : pythonRoots) {
            for (Path python : glob(root, "python3*")) {
                sitePackages.add(python.resolve("site-packages"));
                sitePackages.add(python.resolve("dist-packages"));
            }
        }
        sitePackages.addAll(pythonSiteDirs(userHome.resolve(".local/lib")));
        for (Path version : glob(userHome.resolve(".pyenv/versions"), "*")) {
            sitePackages.addAll(pythonSiteDirs(version.resolve("lib")));
        }
        for (String variable : List.of("VIRTUAL_ENV", "CONDA_PREFIX")) {
            String prefix = environment.get(variable);
            if (prefix != null && !prefix.isBlank()) {
                sitePackages.addAll(pythonSiteDirs(Path.of(prefix).resolve("lib")));
            }
        }
        for (String conda : List.of("miniconda3", "anaconda3", "miniforge3")) {
            sitePackages.addAll(pythonSiteDirs(userHome.resolve(conda).resolve("lib")));
        }
        int existing = 0;
        for (Path site : sitePackages) {
            Path nvidia = site.resolve("nvidia");
            if (!Files.isDirectory(site) || !triedDirs.add(nvidia)) {
                continue;
            }
            existing++;
            List<Path> libDirs = new ArrayList<>();
            for (Path pkg : glob(nvidia, "*")) {
                if (Files.isDirectory(pkg.resolve("lib"))) {
                    libDirs.add(pkg.resolve("lib"));
                }
            }
            if (libDirs.isEmpty()) {
                step("python site-packages " + site + ": no nvidia/*/lib folder");
                continue;
            }
            for (Path libDir : libDirs) {
                searchDir("python site-packages", libDir);
                if (found != null) {
                    return;
                }
            }
        }
        if (existing == 0) {
            step("python site-packages: none found under " + pythonRoots + ", " + userHome
                    + "/{.local,.pyenv/versions/*,miniconda3,anaconda3,miniforge3}, $VIRTUAL_ENV, $CONDA_PREFIX");
        }
    }

    private static List<Path> pythonSiteDirs(Path lib) {
        List<Path> dirs = new ArrayList<>();
        for (Path python : glob(lib, "python3*")) {
            dirs.add(python.resolve("site-packages"));
        }
        return dirs;
    }

    // ---- step 6: JavaCPP CUDA redist

    private void searchJavaCpp() {
        if (classLoader == null) {
            step("JavaCPP CUDA redist: no class loader");
            return;
        }
        boolean any = false;
        for (String fileName : spec.fileNames()) {
            URL resource = classLoader.getResource(JAVACPP_CUDA_RESOURCE_DIR + fileName);
            if (resource == null) {
                continue;
            }
            any = true;
            if ("file".equals(resource.getProtocol())) {
                Path file = Path.of(java.net.URI.create(resource.toString()));
                String why = tryFile(file, "JavaCPP CUDA redist");
                if (why == null) {
                    return;
                }
                if (!why.isEmpty()) {
                    step("JavaCPP CUDA redist " + file + ": rejected: " + why);
                }
                continue;
            }
            // jar:file:/.../cuda-12.6-9.5-1.5.11-linux-x86_64-redist.jar!/org/bytedeco/cuda/linux-x86_64/libcudart.so.12
            String url = resource.toString();
            int bang = url.indexOf("!/");
            String jarName = url.substring(url.lastIndexOf('/', bang) + 1, bang);
            Path cached = userHome.resolve(".javacpp/cache").resolve(jarName).resolve(JAVACPP_CUDA_RESOURCE_DIR + fileName);
            if (Files.exists(cached)) {
                String why = tryFile(cached, "JavaCPP cache");
                if (why == null) {
                    return;
                }
                if (!why.isEmpty()) {
                    step("JavaCPP cache " + cached + ": rejected: " + why);
                }
            } else {
                step("JavaCPP CUDA redist " + url + ": inside a jar and not extracted to " + cached
                        + " (run JavaCPP's Loader.load once, or point " + spec.propertyName() + " at an extracted copy)");
            }
        }
        if (!any) {
            step("JavaCPP CUDA redist: no " + JAVACPP_CUDA_RESOURCE_DIR + "{" + String.join(",", spec.fileNames())
                    + "} on the class path");
        }
    }

    // ---- shared helpers

    private void searchDir(String source, Path dir) {
        Path absolute = dir.toAbsolutePath().normalize();
        if (!triedDirs.add(absolute)) {
            step(source + " " + absolute + ": already tried");
            return;
        }
        if (!Files.isDirectory(absolute)) {
            step(source + " " + absolute + ": no such folder");
            return;
        }
        boolean any = false;
        for (String fileName : spec.fileNames()) {
            Path file = absolute.resolve(fileName);
            if (!Files.exists(file)) {
                continue;
            }
            any = true;
            String why = tryFile(file, source + " " + absolute);
            if (why == null) {
                return;
            }
            if (!why.isEmpty()) {
                step(source + " " + file + ": rejected: " + why);
            }
        }
        if (!any) {
            step(source + " " + absolute + ": no " + String.join(", ", spec.fileNames()));
        }
    }

    /**
     * Validates and, unless an explicit setting failed, loads one candidate file.
     *
     * @return null when loaded (and {@link #found} set), else why the file was not used
     */
    private String tryFile(Path file, String source) {
        if (!Files.exists(file)) {
            return "no such file";
        }
        if (!Files.isRegularFile(file)) {
            return "not a regular file";
        }
        if (!Files.isReadable(file)) {
            return "not readable";
        }
        byte[] head = new byte[5];
        int read;
        try (InputStream in = Files.newInputStream(file)) {
            read = in.readNBytes(head, 0, head.length);
        } catch (IOException e) {
            return "cannot read: " + e.getMessage();
        }
        for (int i = 0; i < ELF_MAGIC.length; i++) {
            if (i >= read || head[i] != ELF_MAGIC[i]) {
                return "not an ELF shared object (first bytes " + HexFormat.of().formatHex(head, 0, Math.min(read, 4))
                        + ", expected 7f454c46)";
            }
        }
        if (read < 5 || head[4] != ELF_CLASS_64) {
            return "not a 64-bit ELF shared object (ELF class " + (read < 5 ? "missing" : head[4]) + ", expected 2)";
        }
        if (explicitSetting != null) {
            step(source + " " + file + ": usable, not loaded (" + explicitSetting + " takes precedence)");
            return "";
        }
        SymbolLookup lookup;
        try {
            lookup = SymbolLookup.libraryLookup(file, Arena.global());
        } catch (IllegalArgumentException e) {
            return "dlopen failed: " + e.getMessage();
        }
        if (lookup.find(spec.markerSymbol()).isEmpty()) {
            return "loaded but has no symbol " + spec.markerSymbol() + " (not a " + spec.name() + " library)";
        }
        step(source + ": loaded " + file);
        found = new NativeLibrary(spec, file, source, lookup, report, includeDirs(file));
        return null;
    }

    private List<Path> includeDirs(Path library) {
        List<Path> extra = new ArrayList<>();
        if (spec.cudaToolkit()) {
            for (String variable : List.of("CUDA_HOME", "CUDA_PATH")) {
                String home = environment.get(variable);
                if (home != null && !home.isBlank()) {
                    extra.add(Path.of(home).resolve("include"));
                }
            }
            for (Path parent : toolkitParents) {
                extra.add(parent.resolve("cuda/include"));
            }
        }
        return NativeLibrary.includeDirsOf(library, extra);
    }

    private void step(String line) {
        report.add(line);
    }

    private static List<String> splitPath(String path) {
        List<String> dirs = new ArrayList<>();
        if (path == null) {
            return dirs;
        }
        for (String dir : path.split(":")) {
            if (!dir.isBlank()) {
                dirs.add(dir);
            }
        }
        return dirs;
    }

    private static List<Path> glob(Path dir, String pattern) {
        List<Path> matches = new ArrayList<>();
        if (!Files.isDirectory(dir)) {
            return matches;
        }
        try (DirectoryStream<Path> stream = Files.newDirectoryStream(dir, pattern)) {
            for (Path path : stream) {
                matches.add(path);
            }
        } catch (IOException e) {
            return matches;
        }
        matches.sort(Comparator.naturalOrder());
        return matches;
    }

    private static Path firstExisting(Path... candidates) {
        for (Path candidate : candidates) {
            if (Files.isExecutable(candidate)) {
                return candidate;
            }
        }
        return null;
    }

    private static Map<String, String> systemPropertiesView() {
        java.util.HashMap<String, String> view = new java.util.HashMap<>();
        for (String name : System.getProperties().stringPropertyNames()) {
            view.put(name, System.getProperty(name));
        }
        return view;
    }
}
