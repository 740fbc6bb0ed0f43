package io.yatt.ffi.nccl;

import io.yatt.ffi.LibraryNotFoundException;
import io.yatt.ffi.NativeLibraries;
import io.yatt.ffi.cuda.Cuda;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeFalse;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/** NCCL behaviour that needs no GPU: it runs when discovery finds libnccl (eval "$(scripts/find-nccl.sh)"). */
class NcclTest {
    private static final String NO_NCCL = "NCCL library not found; run eval \"$(scripts/find-nccl.sh)\" to unpack it from the wheel";

    private static final NcclUniqueId ZERO_ID = new NcclUniqueId(new byte[NcclUniqueId.BYTE_SIZE]);

    @Test
    void shouldReportTheVersionOfTheLoadedLibraryAsItsHeaderStatesIt() throws IOException {
        assumeTrue(Nccl.available(), NO_NCCL);
        Path header = NativeLibraries.nccl().header("nccl.h").orElseThrow();
        String text = Files.readString(header);
        NcclVersion expected = new NcclVersion(define(text, "NCCL_MAJOR"), define(text, "NCCL_MINOR"), define(text, "NCCL_PATCH"));
        NcclVersion version = Nccl.version();
        assertEquals(expected, version);
        assertEquals(define(text, "NCCL_VERSION_CODE"), version.code());
        if (Nccl.libraryPath().contains("nvidia_nccl") || Nccl.libraryPath().contains(".build/nccl")) {
            assertEquals("2.30.7", version.toString(), "the wheel this repository unpacks is NCCL 2.30.7");
        }
    }

    private static int define(String header, String name) {
        Matcher m = Pattern.compile("#define " + name + " (\\d+)").matcher(header);
        assertTrue(m.find(), name + " in nccl.h");
        return Integer.parseInt(m.group(1));
    }

    @Test
    void shouldDecodeVersionCodesOfBothSchemes() {
        assertEquals(new NcclVersion(2, 30, 7), NcclVersion.fromCode(23007));
        assertEquals(new NcclVersion(2, 7, 8), NcclVersion.fromCode(2708));
        assertEquals(23007, new NcclVersion(2, 30, 7).code());
        assertEquals(2708, new NcclVersion(2, 7, 8).code());
        assertEquals("2.30.7", NcclVersion.fromCode(23007).toString());
    }

    @Test
    void shouldCreateDistinctUniqueIdsOf128Bytes() {
        assumeTrue(Nccl.available(), NO_NCCL);
        NcclUniqueId first = Nccl.uniqueId();
        NcclUniqueId second = Nccl.uniqueId();
        assertEquals(128, first.bytes().length);
        assertEquals(128, second.bytes().length);
        assertNotEquals(first, second);
        assertFalse(Arrays.equals(new byte[128], first.bytes()), "an id is not all zeros");
    }

    @Test
    void shouldDescribeEveryResult() {
        assumeTrue(Nccl.available(), NO_NCCL);
        Map<NcclResult, String> texts = new LinkedHashMap<>();
        for (NcclResult result : NcclResult.values()) {
            texts.put(result, Nccl.errorString(result));
        }
        Map<NcclResult, String> expected = new LinkedHashMap<>();
        expected.put(NcclResult.ncclSuccess, "no error");
        expected.put(NcclResult.ncclUnhandledCudaError, "unhandled cuda error (run with NCCL_DEBUG=INFO for details)");
        expected.put(NcclResult.ncclSystemError, "unhandled system error (run with NCCL_DEBUG=INFO for details)");
        expected.put(NcclResult.ncclInternalError, "internal error - please report this issue to the NCCL developers");
        expected.put(NcclResult.ncclInvalidArgument, "invalid argument (run with NCCL_DEBUG=WARN for details)");
        expected.put(NcclResult.ncclInvalidUsage, "invalid usage (run with NCCL_DEBUG=WARN for details)");
        expected.put(NcclResult.ncclRemoteError, "remote process exited or there was a network error");
        expected.put(NcclResult.ncclInProgress, "NCCL operation in progress");
        expected.put(NcclResult.ncclTimeout, "timeout");
        assertEquals(expected, texts);
    }

    @Test
    void shouldFailToInitWithoutADeviceWithAClearNcclException() {
        assumeTrue(Nccl.available(), NO_NCCL);
        assumeTrue(Cuda.deviceCount() == 0, "a CUDA device is present; the GPU tests cover init");
        NcclException e = assertThrows(NcclException.class,
                () -> NcclCommunicator.init(1, Nccl.uniqueId(), 0, 10_000_000_000L));
        assertEquals("ncclCommInitRankConfig failed: result=ncclUnhandledCudaError(1), nRanks=1, rank=0,"
                + " lastError=Cuda failure 'CUDA driver version is insufficient for CUDA runtime version'", e.getMessage());
        assertEquals("ncclCommInitRankConfig", e.call());
        assertSame(NcclResult.ncclUnhandledCudaError, e.result());
    }

    @Test
    void shouldExplainWhereItLookedWhenTheLibraryIsMissing() {
        assumeFalse(Nccl.available(), "NCCL is present; this test describes a machine without it");
        LibraryNotFoundException e = assertThrows(LibraryNotFoundException.class, Nccl::version);
        assertEquals("nccl library not found: looked for libnccl.so.2, libnccl.so; point at the file with"
                + " -Dyatt.nccl.library=/path/to/libnccl.so.2 or YATT_NCCL_LIBRARY=/path/to/libnccl.so.2"
                + " (NCCL from a pip wheel: eval \"$(scripts/find-nccl.sh)\"). Steps tried:",
                e.getMessage().lines().findFirst().orElseThrow());
        assertEquals(e.searchReport().size() + 1, e.getMessage().lines().count());
        assertThrows(LibraryNotFoundException.class, Nccl::uniqueId);
        assertThrows(LibraryNotFoundException.class, Nccl::libraryPath);
    }

    @Test
    void shouldRejectBadInitArgumentsBeforeCallingNccl() {
        assertEquals("nRanks must be at least 1: nRanks=0", assertThrows(IllegalArgumentException.class,
                () -> NcclCommunicator.init(0, ZERO_ID, 0, 1_000L)).getMessage());
        assertEquals("rank out of range: rank=2, nRanks=2", assertThrows(IllegalArgumentException.class,
                () -> NcclCommunicator.init(2, ZERO_ID, 2, 1_000L)).getMessage());
        assertEquals("rank out of range: rank=-1, nRanks=2", assertThrows(IllegalArgumentException.class,
                () -> NcclCommunicator.init(2, ZERO_ID, -1, 1_000L)).getMessage());
        assertEquals("timeoutNs must be positive: timeoutNs=0", assertThrows(IllegalArgumentException.class,
                () -> NcclCommunicator.init(1, ZERO_ID, 0, 0L)).getMessage());
    }

    @Test
    void shouldRefuseGroupEndWithoutGroupStart() {
        assertEquals("ncclGroupEnd without ncclGroupStart on this thread",
                assertThrows(IllegalStateException.class, NcclCommunicator::groupEnd).getMessage());
    }

    @Test
    void shouldLookUpResultsTypesAndOps() {
        for (NcclResult result : NcclResult.values()) {
            assertSame(result, NcclResult.of(result.code()));
        }
        assertEquals("unknown ncclResult_t: code=9", assertThrows(IllegalArgumentException.class, () -> NcclResult.of(9)).getMessage());
        assertNull(NcclResult.find(-1));
        assertEquals("ncclInvalidArgument(4)", NcclResult.ncclInvalidArgument.describe());
        for (NcclDataType type : NcclDataType.values()) {
            assertSame(type, NcclDataType.of(type.code()));
        }
        assertEquals("unknown ncclDataType_t: code=12",
                assertThrows(IllegalArgumentException.class, () -> NcclDataType.of(12)).getMessage());
        assertEquals(9, NcclDataType.BFLOAT16.code());
        assertEquals("ncclBfloat16", NcclDataType.BFLOAT16.cName());
        assertEquals(2, NcclDataType.BFLOAT16.byteSize());
        assertEquals(4, NcclRedOp.AVG.code());
        assertEquals("ncclAvg", NcclRedOp.AVG.cName());
    }

    @Test
    void shouldInitializeAConfigAsNcclConfigInitializerDoes() {
        try (java.lang.foreign.Arena arena = java.lang.foreign.Arena.ofConfined()) {
            java.lang.foreign.MemorySegment config = arena.allocate(io.yatt.ffi.nccl.raw.NcclLib.NCCL_CONFIG);
            config.fill((byte) 0x55);
            io.yatt.ffi.nccl.raw.NcclLib.initConfig(config, 0);
            assertEquals(96L, config.get(java.lang.foreign.ValueLayout.JAVA_LONG, 0));
            assertEquals(0xcafebeef, config.get(java.lang.foreign.ValueLayout.JAVA_INT, 8));
            assertEquals(23007, config.get(java.lang.foreign.ValueLayout.JAVA_INT, 12));
            assertEquals(0, config.get(java.lang.foreign.ValueLayout.JAVA_INT, 16), "blocking");
            assertEquals(Integer.MIN_VALUE, config.get(java.lang.foreign.ValueLayout.JAVA_INT, 20), "cgaClusterSize");
            assertEquals(0L, config.get(java.lang.foreign.ValueLayout.JAVA_LONG, 32), "netName");
            assertEquals(0L, config.get(java.lang.foreign.ValueLayout.JAVA_LONG, 48), "commName");
            assertEquals(Integer.MIN_VALUE, config.get(java.lang.foreign.ValueLayout.JAVA_INT, 92), "graphStreamOrdering");
        }
    }

    @Test
    void shouldRejectAUniqueIdOfTheWrongLength() {
        assertEquals("NCCL unique id must be 128 bytes: length=64",
                assertThrows(IllegalArgumentException.class, () -> new NcclUniqueId(new byte[64])).getMessage());
    }
}
