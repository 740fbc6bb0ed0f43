package io.yatt.ffi;

import io.yatt.ffi.cuda.CudaError;
import io.yatt.ffi.cuda.CudaMemoryType;
import io.yatt.ffi.cuda.raw.CudaDriver;
import io.yatt.ffi.cuda.raw.CudaRuntime;
import io.yatt.ffi.nccl.NcclDataType;
import io.yatt.ffi.nccl.NcclRedOp;
import io.yatt.ffi.nccl.NcclResult;
import io.yatt.ffi.nccl.raw.NcclLib;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.lang.foreign.AddressLayout;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.GroupLayout;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.ValueLayout;
import java.lang.reflect.Field;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * Checks the raw bindings against the real C headers that library discovery finds: every bound
 * function's name, parameter count and parameter/return kinds against its FunctionDescriptor (and the
 * Java method's signature), and every enum constant and flag against the header's value. Skips only
 * when a header is absent, saying which and where it looked.
 */
class HeaderConformanceTest {

    private static Path header(LibrarySpec spec, String fileName) {
        NativeLibrary library;
        try {
            library = NativeLibraries.load(spec);
        } catch (LibraryNotFoundException e) {
            assumeTrue(false, spec.name() + " library not found, so " + fileName + " cannot be located"
                    + (spec == LibrarySpec.NCCL ? " (run: eval \"$(scripts/find-nccl.sh)\")" : "") + ": "
                    + e.getMessage().lines().findFirst().orElse(""));
            throw new AssertionError("unreachable");
        }
        Optional<Path> path = library.header(fileName);
        assumeTrue(path.isPresent(), fileName + " not found next to " + library.path() + "; looked in " + library.includeDirs());
        return path.get();
    }

    private static CHeader cudaRuntimeHeaders() throws IOException {
        return CHeader.parse(header(LibrarySpec.CUDART, "driver_types.h"), header(LibrarySpec.CUDART, "cuda_runtime_api.h"));
    }

    private static CHeader ncclHeader() throws IOException {
        // nccl.h includes cuda_runtime.h for cudaStream_t, which driver_types.h defines
        return CHeader.parse(header(LibrarySpec.CUDART, "driver_types.h"), header(LibrarySpec.NCCL, "nccl.h"));
    }

    // ---- functions

    @Test
    void shouldBindEveryCudaRuntimeFunctionAsDeclaredInTheToolkitHeaders() throws Exception {
        CHeader header = cudaRuntimeHeaders();
        Map<String, FunctionDescriptor> bound = descriptors(CudaRuntime.class);
        assertEquals(41, bound.size(), "bound CUDA runtime functions: " + bound.keySet());
        assertEquals(List.of(), mismatches(header, bound));
    }

    @Test
    void shouldBindEveryCudaDriverFunctionAsDeclaredInCudaH() throws Exception {
        CHeader header = CHeader.parse(header(LibrarySpec.CUDART, "cuda.h"));
        Map<String, FunctionDescriptor> bound = descriptors(CudaDriver.class);
        assertEquals(4, bound.size(), "bound CUDA driver functions: " + bound.keySet());
        assertEquals(List.of(), mismatches(header, bound));
    }

    @Test
    void shouldBindEveryNcclFunctionAsDeclaredInNcclH() throws Exception {
        CHeader header = ncclHeader();
        Map<String, FunctionDescriptor> bound = descriptors(NcclLib.class);
        assertEquals(27, bound.size(), "bound NCCL functions: " + bound.keySet());
        assertEquals(List.of(), mismatches(header, bound));
    }

    /** C symbol -> descriptor of every public static downcall method of a raw class (read from its holder). */
    private static Map<String, FunctionDescriptor> descriptors(Class<?> raw) throws Exception {
        Map<String, FunctionDescriptor> result = new TreeMap<>();
        for (Method method : raw.getDeclaredMethods()) {
            if (!Modifier.isPublic(method.getModifiers()) || !Modifier.isStatic(method.getModifiers())) {
                continue;
            }
            Class<?> holder;
            try {
                holder = Class.forName(raw.getName() + "$" + method.getName(), true, raw.getClassLoader());
            } catch (ClassNotFoundException e) {
                continue; // a helper such as NcclLib.initConfig, not a downcall
            }
            Field field = holder.getDeclaredField("DESC");
            field.setAccessible(true);
            FunctionDescriptor descriptor = (FunctionDescriptor) field.get(null);
            assertEquals(descriptor.toMethodType(), java.lang.invoke.MethodType.methodType(method.getReturnType(),
                    method.getParameterTypes()), "Java signature of " + method.getName() + " vs its descriptor");
            String symbol = method.getName().endsWith("Critical")
                    ? method.getName().substring(0, method.getName().length() - "Critical".length())
                    : method.getName();
            result.put(method.getName() + (symbol.equals(method.getName()) ? "" : "=" + symbol), descriptor);
        }
        return result;
    }

    private static List<String> mismatches(CHeader header, Map<String, FunctionDescriptor> bound) {
        List<String> problems = new ArrayList<>();
        for (Map.Entry<String, FunctionDescriptor> entry : bound.entrySet()) {
            String key = entry.getKey();
            String symbol = key.contains("=") ? key.substring(key.indexOf('=') + 1) : key;
            CHeader.Function function = header.functions.get(symbol);
            if (function == null) {
                problems.add(symbol + ": not declared in the header");
                continue;
            }
            FunctionDescriptor descriptor = entry.getValue();
            String expectedReturn = header.kindOf(function.returnType());
            String actualReturn = descriptor.returnLayout().map(HeaderConformanceTest::kind).orElse("VOID");
            if (!expectedReturn.equals(actualReturn)) {
                problems.add(symbol + ": returns " + function.returnType() + " (" + expectedReturn + ") but bound as " + actualReturn);
            }
            List<MemoryLayout> arguments = descriptor.argumentLayouts();
            if (arguments.size() != function.parameterTypes().size()) {
                problems.add(symbol + ": " + function.parameterTypes().size() + " parameters " + function.parameterTypes()
                        + " but bound with " + arguments.size());
                continue;
            }
            for (int i = 0; i < arguments.size(); i++) {
                String cType = function.parameterTypes().get(i);
                String expected = header.kindOf(cType);
                String actual = kind(arguments.get(i));
                if (!expected.equals(actual)) {
                    problems.add(symbol + ": parameter " + i + " is " + cType + " (" + expected + ") but bound as " + actual);
                }
            }
        }
        return problems;
    }

    private static String kind(MemoryLayout layout) {
        return switch (layout) {
            case AddressLayout ignored -> "ADDRESS";
            case ValueLayout.OfInt ignored -> "JAVA_INT";
            case ValueLayout.OfLong ignored -> "JAVA_LONG";
            case ValueLayout.OfFloat ignored -> "JAVA_FLOAT";
            case ValueLayout.OfDouble ignored -> "JAVA_DOUBLE";
            case ValueLayout.OfByte ignored -> "JAVA_BYTE";
            case ValueLayout.OfShort ignored -> "JAVA_SHORT";
            case GroupLayout group -> "STRUCT:" + group.byteSize();
            default -> "OTHER(" + layout + ")";
        };
    }

    // ---- enums and constants

    @Test
    void shouldCoverEveryCudaErrorOfDriverTypesHInBothDirections() throws IOException {
        Map<String, Long> header = cudaRuntimeHeaders().enums.get("cudaError");
        assertTrue(header != null && header.size() > 100, "enum cudaError parsed from driver_types.h: " + header);
        Map<String, Long> java = new TreeMap<>();
        for (CudaError error : CudaError.values()) {
            java.put(error.name(), (long) error.code());
        }
        assertEquals(new TreeMap<>(header), java);
    }

    @Test
    void shouldMatchNcclResultsWithNcclHInBothDirections() throws IOException {
        Map<String, Long> header = new TreeMap<>(ncclHeader().enums.get("ncclResult_t"));
        assertEquals(9L, header.remove("ncclNumResults"));
        Map<String, Long> java = new TreeMap<>();
        for (NcclResult result : NcclResult.values()) {
            java.put(result.name(), (long) result.code());
        }
        assertEquals(header, java);
    }

    @Test
    void shouldMatchNcclDataTypesWithNcclHInBothDirections() throws IOException {
        Map<String, Long> header = new TreeMap<>(ncclHeader().enums.get("ncclDataType_t"));
        long numTypes = header.remove("ncclNumTypes");
        assertEquals(numTypes, NcclDataType.values().length);
        for (NcclDataType type : NcclDataType.values()) {
            assertEquals(header.get(type.cName()), (Long) (long) type.code(), type + " vs nccl.h " + type.cName());
        }
        for (Map.Entry<String, Long> constant : header.entrySet()) {
            assertEquals(constant.getValue(), (Long) (long) NcclDataType.of(constant.getValue().intValue()).code(),
                    "nccl.h " + constant.getKey() + " has a constant");
        }
    }

    @Test
    void shouldMatchNcclRedOpsWithNcclHInBothDirections() throws IOException {
        Map<String, Long> header = new TreeMap<>(ncclHeader().enums.get("ncclRedOp_t"));
        long numOps = header.remove("ncclNumOps");
        assertEquals(numOps, NcclRedOp.values().length);
        assertEquals(Map.of("ncclSum", 0L, "ncclProd", 1L, "ncclMax", 2L, "ncclMin", 3L, "ncclAvg", 4L), header);
        for (NcclRedOp op : NcclRedOp.values()) {
            assertEquals(header.get(op.cName()), (Long) (long) op.code(), op.toString());
        }
    }

    @Test
    void shouldMatchCudaRuntimeConstantsWithTheHeaders() throws IOException {
        CHeader header = cudaRuntimeHeaders();
        Map<String, Long> memcpyKinds = header.enums.get("cudaMemcpyKind");
        assertEquals(Map.of("cudaMemcpyHostToHost", (long) CudaRuntime.cudaMemcpyHostToHost,
                "cudaMemcpyHostToDevice", (long) CudaRuntime.cudaMemcpyHostToDevice,
                "cudaMemcpyDeviceToHost", (long) CudaRuntime.cudaMemcpyDeviceToHost,
                "cudaMemcpyDeviceToDevice", (long) CudaRuntime.cudaMemcpyDeviceToDevice,
                "cudaMemcpyDefault", (long) CudaRuntime.cudaMemcpyDefault), memcpyKinds);
        Map<String, Long> memoryTypes = header.enums.get("cudaMemoryType");
        assertEquals(List.of("cudaMemoryTypeUnregistered", "cudaMemoryTypeHost", "cudaMemoryTypeDevice",
                "cudaMemoryTypeManaged"), new ArrayList<>(memoryTypes.keySet()));
        for (CudaMemoryType type : CudaMemoryType.values()) {
            String cName = "cudaMemoryType" + type.name().charAt(0) + type.name().substring(1).toLowerCase();
            assertEquals(memoryTypes.get(cName), (Long) (long) type.code(), cName);
        }
        Map<String, Long> attributes = header.enums.get("cudaDeviceAttr");
        assertEquals((long) CudaRuntime.cudaDevAttrMultiProcessorCount, attributes.get("cudaDevAttrMultiProcessorCount"));
        assertEquals((long) CudaRuntime.cudaDevAttrPciBusId, attributes.get("cudaDevAttrPciBusId"));
        assertEquals((long) CudaRuntime.cudaDevAttrPciDeviceId, attributes.get("cudaDevAttrPciDeviceId"));
        assertEquals((long) CudaRuntime.cudaDevAttrPciDomainId, attributes.get("cudaDevAttrPciDomainId"));
        assertEquals((long) CudaRuntime.cudaDevAttrComputeCapabilityMajor, attributes.get("cudaDevAttrComputeCapabilityMajor"));
        assertEquals((long) CudaRuntime.cudaDevAttrComputeCapabilityMinor, attributes.get("cudaDevAttrComputeCapabilityMinor"));
        assertEquals((long) CudaRuntime.cudaSuccess, header.enumConstants.get("cudaSuccess"));
        assertEquals((long) CudaRuntime.cudaErrorNotReady, header.enumConstants.get("cudaErrorNotReady"));
        Map<String, Integer> flags = Map.ofEntries(
                Map.entry("cudaHostAllocDefault", CudaRuntime.cudaHostAllocDefault),
                Map.entry("cudaHostAllocPortable", CudaRuntime.cudaHostAllocPortable),
                Map.entry("cudaHostRegisterDefault", CudaRuntime.cudaHostRegisterDefault),
                Map.entry("cudaHostRegisterPortable", CudaRuntime.cudaHostRegisterPortable),
                Map.entry("cudaStreamDefault", CudaRuntime.cudaStreamDefault),
                Map.entry("cudaStreamNonBlocking", CudaRuntime.cudaStreamNonBlocking),
                Map.entry("cudaEventDefault", CudaRuntime.cudaEventDefault),
                Map.entry("cudaEventBlockingSync", CudaRuntime.cudaEventBlockingSync),
                Map.entry("cudaEventDisableTiming", CudaRuntime.cudaEventDisableTiming),
                Map.entry("cudaIpcMemLazyEnablePeerAccess", CudaRuntime.cudaIpcMemLazyEnablePeerAccess),
                Map.entry("CUDA_IPC_HANDLE_SIZE", CudaRuntime.CUDA_IPC_HANDLE_SIZE));
        for (Map.Entry<String, Integer> flag : flags.entrySet()) {
            assertEquals(header.define(flag.getKey()), (Long) (long) flag.getValue(), flag.getKey());
        }
        assertEquals("STRUCT:64", header.kindOf("cudaIpcMemHandle_t"));
        List<String> pointerAttributes = header.fields("struct cudaPointerAttributes").stream().map(f -> f[0]).toList();
        assertEquals(List.of("type", "device", "devicePointer", "hostPointer"), pointerAttributes.subList(0, 4));
        assertEquals(CudaRuntime.POINTER_ATTRIBUTES.memberLayouts().stream().map(m -> m.name().orElseThrow()).toList(),
                pointerAttributes.subList(0, 4));
        String[] firstDevicePropField = header.fields("struct cudaDeviceProp").getFirst();
        assertEquals("name char[256]", firstDevicePropField[0] + " " + firstDevicePropField[1]);
        assertEquals(256, CudaRuntime.DEVICE_NAME_BYTES);
    }

    @Test
    void shouldMatchNcclConfigLayoutAndConstantsWithNcclH() throws IOException {
        CHeader header = ncclHeader();
        List<String[]> fields = header.fields("ncclConfig_t");
        List<String> expected = new ArrayList<>();
        for (String[] field : fields) {
            expected.add(field[0] + ":" + header.kindOf(field[1]));
        }
        List<String> actual = new ArrayList<>();
        for (MemoryLayout member : NcclLib.NCCL_CONFIG.memberLayouts()) {
            actual.add(member.name().orElseThrow() + ":" + kind(member));
        }
        assertEquals(expected, actual);
        assertEquals(96, NcclLib.NCCL_CONFIG.byteSize());
        assertEquals(header.define("NCCL_VERSION_CODE"), (Long) (long) NcclLib.NCCL_HEADER_VERSION_CODE);
        assertEquals(header.define("NCCL_API_MAGIC"), (Long) Integer.toUnsignedLong(NcclLib.NCCL_API_MAGIC));
        assertEquals(header.define("NCCL_UNIQUE_ID_BYTES"), (Long) (long) NcclLib.NCCL_UNIQUE_ID_BYTES);
        assertEquals(header.define("NCCL_SPLIT_NOCOLOR"), (Long) (long) NcclLib.NCCL_SPLIT_NOCOLOR);
        assertEquals("INT_MIN", header.defines.get("NCCL_CONFIG_UNDEF_INT"));
        assertEquals(Integer.MIN_VALUE, NcclLib.NCCL_CONFIG_UNDEF_INT);
        assertEquals("STRUCT:128", header.kindOf("ncclUniqueId"));
        assertEquals((long) NcclLib.ncclInProgress, header.enumConstants.get("ncclInProgress"));
        String initializer = header.defines.get("NCCL_CONFIG_INITIALIZER");
        List<String> initializerFields = Arrays.stream(initializer.replaceAll("[{}]", "").split(","))
                .map(String::strip).filter(s -> !s.isEmpty()).toList();
        assertEquals(List.of("sizeof(ncclConfig_t)", "NCCL_API_MAGIC", "NCCL_VERSION_CODE"), initializerFields.subList(0, 3));
        assertEquals(fields.size(), initializerFields.size(), "NCCL_CONFIG_INITIALIZER sets every field");
        assertTrue(initializerFields.subList(3, initializerFields.size()).stream()
                .allMatch(v -> v.equals("NCCL_CONFIG_UNDEF_INT") || v.equals("NCCL_CONFIG_UNDEF_PTR")), initializer);
    }
}
