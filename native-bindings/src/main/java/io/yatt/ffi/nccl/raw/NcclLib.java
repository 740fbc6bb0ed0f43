package io.yatt.ffi.nccl.raw;

import io.yatt.ffi.LibrarySpec;
import io.yatt.ffi.internal.Downcalls;

import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.VarHandle;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * Raw downcalls into NCCL ({@code libnccl.so.2}, API of NCCL 2.30), one static method per C function
 * with the C name, primitives and {@link MemorySegment} only, each symbol linked lazily on first use.
 * Methods return the raw {@code ncclResult_t}; {@code io.yatt.ffi.nccl} turns codes into exceptions.
 * Thread-safe (stateless); NCCL's own rules apply (a communicator is used by one thread at a time).
 */
public final class NcclLib {
    /** {@code NCCL_UNIQUE_ID_BYTES}. */
    public static final int NCCL_UNIQUE_ID_BYTES = 128;

    /** {@code ncclUniqueId}: {@code struct { char internal[128]; }}, passed by value to the init calls. */
    public static final StructLayout NCCL_UNIQUE_ID = MemoryLayout.structLayout(
            MemoryLayout.sequenceLayout(NCCL_UNIQUE_ID_BYTES, JAVA_BYTE).withName("internal")).withName("ncclUniqueId");

    /** {@code NCCL_API_MAGIC}, the {@code magic} field of {@code NCCL_CONFIG_INITIALIZER}. */
    public static final int NCCL_API_MAGIC = 0xcafebeef;
    /** {@code NCCL_CONFIG_UNDEF_INT} ({@code INT_MIN}): "use NCCL's default" for an {@code int} field of the config. */
    public static final int NCCL_CONFIG_UNDEF_INT = Integer.MIN_VALUE;
    /** {@code NCCL_SPLIT_NOCOLOR}: a rank passing this color to {@code ncclCommSplit} gets no new communicator. */
    public static final int NCCL_SPLIT_NOCOLOR = -1;
    /** {@code NCCL_VERSION_CODE} of the header this layout follows (2.30.7). */
    public static final int NCCL_HEADER_VERSION_CODE = 23007;

    /** {@code ncclConfig_t} ({@code struct ncclConfig_v23000}) of NCCL 2.30: 96 bytes. */
    public static final StructLayout NCCL_CONFIG = MemoryLayout.structLayout(
            JAVA_LONG.withName("size"),
            JAVA_INT.withName("magic"),
            JAVA_INT.withName("version"),
            JAVA_INT.withName("blocking"),
            JAVA_INT.withName("cgaClusterSize"),
            JAVA_INT.withName("minCTAs"),
            JAVA_INT.withName("maxCTAs"),
            ADDRESS.withName("netName"),
            JAVA_INT.withName("splitShare"),
            JAVA_INT.withName("trafficClass"),
            ADDRESS.withName("commName"),
            JAVA_INT.withName("collnetEnable"),
            JAVA_INT.withName("CTAPolicy"),
            JAVA_INT.withName("shrinkShare"),
            JAVA_INT.withName("nvlsCTAs"),
            JAVA_INT.withName("nChannelsPerNetPeer"),
            JAVA_INT.withName("nvlinkCentricSched"),
            JAVA_INT.withName("graphUsageMode"),
            JAVA_INT.withName("numRmaCtx"),
            JAVA_INT.withName("maxP2pPeers"),
            JAVA_INT.withName("graphStreamOrdering")).withName("ncclConfig_v23000");

    /** {@code ncclSuccess}. */
    public static final int ncclSuccess = 0;
    /** {@code ncclInProgress}: a non-blocking call has not finished yet. */
    public static final int ncclInProgress = 7;

    private NcclLib() {
    }

    private static final VarHandle CONFIG_SIZE = NCCL_CONFIG.varHandle(MemoryLayout.PathElement.groupElement("size"));
    private static final VarHandle CONFIG_MAGIC = NCCL_CONFIG.varHandle(MemoryLayout.PathElement.groupElement("magic"));
    private static final VarHandle CONFIG_VERSION = NCCL_CONFIG.varHandle(MemoryLayout.PathElement.groupElement("version"));
    private static final VarHandle CONFIG_BLOCKING = NCCL_CONFIG.varHandle(MemoryLayout.PathElement.groupElement("blocking"));

    /**
     * Fills a config segment the way {@code NCCL_CONFIG_INITIALIZER} does (size, magic, version, every
     * other field undefined) and then sets {@code blocking}.
     *
     * @param config a segment of at least {@link #NCCL_CONFIG} size
     * @param blocking {@code 1} for blocking calls, {@code 0} for non-blocking ones (polled with {@link #ncclCommGetAsyncError})
     * @return {@code config}
     */
    public static MemorySegment initConfig(MemorySegment config, int blocking) {
        config.fill((byte) 0);
        for (MemoryLayout member : NCCL_CONFIG.memberLayouts()) {
            if (member.equals(JAVA_INT.withName(member.name().orElseThrow()))) {
                long offset = NCCL_CONFIG.byteOffset(MemoryLayout.PathElement.groupElement(member.name().orElseThrow()));
                config.set(JAVA_INT, offset, NCCL_CONFIG_UNDEF_INT);
            }
        }
        CONFIG_SIZE.set(config, 0L, NCCL_CONFIG.byteSize());
        CONFIG_MAGIC.set(config, 0L, NCCL_API_MAGIC);
        CONFIG_VERSION.set(config, 0L, NCCL_HEADER_VERSION_CODE);
        CONFIG_BLOCKING.set(config, 0L, blocking);
        return config;
    }

    private static final class ncclGetVersion {
        static final FunctionDescriptor DESC = FunctionDescriptor.of(JAVA_INT, ADDRESS);
        static final MethodHandle HANDLE = Downcalls.link(LibrarySpec.NCCL, "ncclGetVersion", DESC);
    }
    /**
     * {@code ncclResult_t ncclGetVersion(int *version)}: {@code major*10000 + minor*100 + patch} for 2.9 and later.
     */
    public static int ncclGetVersion(MemorySegment version) {
        try {
            return (int) ncclGetVersion.HANDLE.invokeExact(version);
        } catch (Throwable t) {
            throw Downcalls.rethrow(t);
        }
    }

    private static final class ncclGetUniqueId {
        static final FunctionDescriptor DESC = FunctionDescriptor.of(JAVA_INT, ADDRESS);
        static final MethodHandle HANDLE = Downcalls.link(LibrarySpec.NCCL, "ncclGetUniqueId", DESC);
    }
    /**
     * {@code ncclResult_t ncclGetUniqueId(ncclUniqueId *uniqueId)}: writes 128 bytes.
     */
    public static int ncclGetUniqueId(MemorySegment uniqueId) {
        try {
            return (int) ncclGetUniqueId.HANDLE.invokeExact(uniqueId);
        } catch (Throwable t) {
            throw Downcalls.rethrow(t);
        }
    }

    private static final class ncclCommInitRank {
        static final FunctionDescriptor DESC = FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, NCCL_UNIQUE_ID, JAVA_INT);
        static final MethodHandle HANDLE = Downcalls.link(LibrarySpec.NCCL, "ncclCommInitRank", DESC);
    }
    /**
     * {@code ncclResult_t ncclCommInitRank(ncclComm_t *comm, int nranks, ncclUniqueId commId, int rank)}; the id is passed by value (a {@link #NCCL_UNIQUE_ID} segment). Blocks until every rank joined.
     */
    public static int ncclCommInitRank(MemorySegment comm, int nranks, MemorySegment commId, int rank) {
        try {
            return (int) ncclCommInitRank.HANDLE.invokeExact(comm, nranks, commId, rank);
        } catch (Throwable t) {
            throw Downcalls.rethrow(t);
        }
    }

    private static final class ncclCommInitRankConfig {
        static final FunctionDescriptor DESC = FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, NCCL_UNIQUE_ID, JAVA_INT, ADDRESS);
        static final MethodHandle HANDLE = Downcalls.link(LibrarySpec.NCCL, "ncclCommInitRankConfig", DESC);
    }
    /**
     * {@code ncclResult_t ncclCommInitRankConfig(ncclComm_t *comm, int nranks, ncclUniqueId commId, int rank, ncclConfig_t *config)}; with {@code blocking=0} it returns {@code ncclInProgress} and completion is polled with {@link #ncclCommGetAsyncError}.
     */
    public static int ncclCommInitRankConfig(MemorySegment comm, int nranks, MemorySegment commId, int rank, MemorySegment config) {
        try {
            return (int) ncclCommInitRankConfig.HANDLE.invokeExact(comm, nranks, commId, rank, config);
        } catch (Throwable t) {
            throw Downcalls.rethrow(t);
        }
    }

    private static final class ncclCommSplit {
        static final FunctionDescriptor DESC = FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT, ADDRESS, ADDRESS);
        static final MethodHandle HANDLE = Downcalls.link(LibrarySpec.NCCL, "ncclCommSplit", DESC);
    }
    /**
     * {@code ncclResult_t ncclCommSplit(ncclComm_t comm, int color, int key, ncclComm_t *newcomm, ncclConfig_t *config)}.
     */
    public static int ncclCommSplit(MemorySegment comm, int color, int key, MemorySegment newcomm, MemorySegment config) {
        try {
            return (int) ncclCommSplit.HANDLE.invokeExact(comm, color, key, newcomm, config);
        } catch (Throwable t) {
            throw Downcalls.rethrow(t);
        }
    }

    private static final class ncclCommFinalize {
        static final FunctionDescriptor DESC = FunctionDescriptor.of(JAVA_INT, ADDRESS);
        static final MethodHandle HANDLE = Downcalls.link(LibrarySpec.NCCL, "ncclCommFinalize", DESC);
    }
    /**
     * {@code ncclResult_t ncclCommFinalize(ncclComm_t comm)}: flushes outstanding work before destroy.
     */
    public static int ncclCommFinalize(MemorySegment comm) {
        try {
            return (int) ncclCommFinalize.HANDLE.invokeExact(comm);
        } catch (Throwable t) {
            throw Downcalls.rethrow(t);
        }
    }

    private static final class ncclCommDestroy {
        static final FunctionDescriptor DESC = FunctionDescriptor.of(JAVA_INT, ADDRESS);
        static final MethodHandle HANDLE = Downcalls.link(LibrarySpec.NCCL, "ncclCommDestroy", DESC);
    }
    /**
     * {@code ncclResult_t ncclCommDestroy(ncclComm_t comm)}.
     */
    public static int ncclCommDestroy(MemorySegment comm) {
        try {
            return (int) ncclCommDestroy.HANDLE.invokeExact(comm);
        } catch (Throwable t) {
            throw Downcalls.rethrow(t);
        }
    }

    private static final class ncclCommAbort {
        static final FunctionDescriptor DESC = FunctionDescriptor.of(JAVA_INT, ADDRESS);
        static final MethodHandle HANDLE = Downcalls.link(LibrarySpec.NCCL, "ncclCommAbort", DESC);
    }
    /**
     * {@code ncclResult_t ncclCommAbort(ncclComm_t comm)}: stops outstanding work and frees the communicator.
     */
    public static int ncclCommAbort(MemorySegment comm) {
        try {
            return (int) ncclCommAbort.HANDLE.invokeExact(comm);
        } catch (Throwable t) {
            throw Downcalls.rethrow(t);
        }
    }

    private static final class ncclCommGetAsyncError {
        static final FunctionDescriptor DESC = FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS);
        static final MethodHandle HANDLE = Downcalls.link(LibrarySpec.NCCL, "ncclCommGetAsyncError", DESC);
    }
    /**
     * {@code ncclResult_t ncclCommGetAsyncError(ncclComm_t comm, ncclResult_t *asyncError)}.
     */
    public static int ncclCommGetAsyncError(MemorySegment comm, MemorySegment asyncError) {
        try {
            return (int) ncclCommGetAsyncError.HANDLE.invokeExact(comm, asyncError);
        } catch (Throwable t) {
            throw Downcalls.rethrow(t);
        }
    }

    private static final class ncclCommCount {
        static final FunctionDescriptor DESC = FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS);
        static final MethodHandle HANDLE = Downcalls.link(LibrarySpec.NCCL, "ncclCommCount", DESC);
    }
    /**
     * {@code ncclResult_t ncclCommCount(const ncclComm_t comm, int *count)}.
     */
    public static int ncclCommCount(MemorySegment comm, MemorySegment count) {
        try {
            return (int) ncclCommCount.HANDLE.invokeExact(comm, count);
        } catch (Throwable t) {
            throw Downcalls.rethrow(t);
        }
    }

    private static final class ncclCommCuDevice {
        static final FunctionDescriptor DESC = FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS);
        static final MethodHandle HANDLE = Downcalls.link(LibrarySpec.NCCL, "ncclCommCuDevice", DESC);
    }
    /**
     * {@code ncclResult_t ncclCommCuDevice(const ncclComm_t comm, int *device)}.
     */
    public static int ncclCommCuDevice(MemorySegment comm, MemorySegment device) {
        try {
            return (int) ncclCommCuDevice.HANDLE.invokeExact(comm, device);
        } catch (Throwable t) {
            throw Downcalls.rethrow(t);
        }
    }

    private static final class ncclCommUserRank {
        static final FunctionDescriptor DESC = FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS);
        static final MethodHandle HANDLE = Downcalls.link(LibrarySpec.NCCL, "ncclCommUserRank", DESC);
    }
    /**
     * {@code ncclResult_t ncclCommUserRank(const ncclComm_t comm, int *rank)}.
     */
    public static int ncclCommUserRank(MemorySegment comm, MemorySegment rank) {
        try {
            return (int) ncclCommUserRank.HANDLE.invokeExact(comm, rank);
        } catch (Throwable t) {
            throw Downcalls.rethrow(t);
        }
    }

    private static final class ncclGetErrorString {
        static final FunctionDescriptor DESC = FunctionDescriptor.of(ADDRESS, JAVA_INT);
        static final MethodHandle HANDLE = Downcalls.link(LibrarySpec.NCCL, "ncclGetErrorString", DESC);
    }
    /**
     * {@code const char* ncclGetErrorString(ncclResult_t result)}: a static string.
     */
    public static MemorySegment ncclGetErrorString(int result) {
        try {
            return (MemorySegment) ncclGetErrorString.HANDLE.invokeExact(result);
        } catch (Throwable t) {
            throw Downcalls.rethrow(t);
        }
    }

    private static final class ncclGetLastError {
        static final FunctionDescriptor DESC = FunctionDescriptor.of(ADDRESS, ADDRESS);
        static final MethodHandle HANDLE = Downcalls.link(LibrarySpec.NCCL, "ncclGetLastError", DESC);
    }
    /**
     * {@code const char* ncclGetLastError(ncclComm_t comm)}: the last error message of a communicator, or of the calling thread when {@code comm} is NULL.
     */
    public static MemorySegment ncclGetLastError(MemorySegment comm) {
        try {
            return (MemorySegment) ncclGetLastError.HANDLE.invokeExact(comm);
        } catch (Throwable t) {
            throw Downcalls.rethrow(t);
        }
    }

    private static final class ncclAllReduce {
        static final FunctionDescriptor DESC = FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, JAVA_LONG, JAVA_INT, JAVA_INT, ADDRESS, ADDRESS);
        static final MethodHandle HANDLE = Downcalls.link(LibrarySpec.NCCL, "ncclAllReduce", DESC);
    }
    /**
     * {@code ncclResult_t ncclAllReduce(const void *sendbuff, void *recvbuff, size_t count, ncclDataType_t datatype, ncclRedOp_t op, ncclComm_t comm, cudaStream_t stream)}.
     */
    public static int ncclAllReduce(MemorySegment sendbuff, MemorySegment recvbuff, long count, int datatype, int op, MemorySegment comm, MemorySegment stream) {
        try {
            return (int) ncclAllReduce.HANDLE.invokeExact(sendbuff, recvbuff, count, datatype, op, comm, stream);
        } catch (Throwable t) {
            throw Downcalls.rethrow(t);
        }
    }

    private static final class ncclAllGather {
        static final FunctionDescriptor DESC = FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, JAVA_LONG, JAVA_INT, ADDRESS, ADDRESS);
        static final MethodHandle HANDLE = Downcalls.link(LibrarySpec.NCCL, "ncclAllGather", DESC);
    }
    /**
     * {@code ncclResult_t ncclAllGather(const void *sendbuff, void *recvbuff, size_t sendcount, ncclDataType_t datatype, ncclComm_t comm, cudaStream_t stream)}.
     */
    public static int ncclAllGather(MemorySegment sendbuff, MemorySegment recvbuff, long sendcount, int datatype, MemorySegment comm, MemorySegment stream) {
        try {
            return (int) ncclAllGather.HANDLE.invokeExact(sendbuff, recvbuff, sendcount, datatype, comm, stream);
        } catch (Throwable t) {
            throw Downcalls.rethrow(t);
        }
    }

    private static final class ncclReduceScatter {
        static final FunctionDescriptor DESC = FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, JAVA_LONG, JAVA_INT, JAVA_INT, ADDRESS, ADDRESS);
        static final MethodHandle HANDLE = Downcalls.link(LibrarySpec.NCCL, "ncclReduceScatter", DESC);
    }
    /**
     * {@code ncclResult_t ncclReduceScatter(const void *sendbuff, void *recvbuff, size_t recvcount, ncclDataType_t datatype, ncclRedOp_t op, ncclComm_t comm, cudaStream_t stream)}.
     */
    public static int ncclReduceScatter(MemorySegment sendbuff, MemorySegment recvbuff, long recvcount, int datatype, int op, MemorySegment comm, MemorySegment stream) {
        try {
            return (int) ncclReduceScatter.HANDLE.invokeExact(sendbuff, recvbuff, recvcount, datatype, op, comm, stream);
        } catch (Throwable t) {
            throw Downcalls.rethrow(t);
        }
    }

    private static final class ncclBroadcast {
        static final FunctionDescriptor DESC = FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, JAVA_LONG, JAVA_INT, JAVA_INT, ADDRESS, ADDRESS);
        static final MethodHandle HANDLE = Downcalls.link(LibrarySpec.NCCL, "ncclBroadcast", DESC);
    }
    /**
     * {@code ncclResult_t ncclBroadcast(const void *sendbuff, void *recvbuff, size_t count, ncclDataType_t datatype, int root, ncclComm_t comm, cudaStream_t stream)}.
     */
    public static int ncclBroadcast(MemorySegment sendbuff, MemorySegment recvbuff, long count, int datatype, int root, MemorySegment comm, MemorySegment stream) {
        try {
            return (int) ncclBroadcast.HANDLE.invokeExact(sendbuff, recvbuff, count, datatype, root, comm, stream);
        } catch (Throwable t) {
            throw Downcalls.rethrow(t);
        }
    }

    private static final class ncclReduce {
        static final FunctionDescriptor DESC = FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, JAVA_LONG, JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS, ADDRESS);
        static final MethodHandle HANDLE = Downcalls.link(LibrarySpec.NCCL, "ncclReduce", DESC);
    }
    /**
     * {@code ncclResult_t ncclReduce(const void *sendbuff, void *recvbuff, size_t count, ncclDataType_t datatype, ncclRedOp_t op, int root, ncclComm_t comm, cudaStream_t stream)}.
     */
    public static int ncclReduce(MemorySegment sendbuff, MemorySegment recvbuff, long count, int datatype, int op, int root, MemorySegment comm, MemorySegment stream) {
        try {
            return (int) ncclReduce.HANDLE.invokeExact(sendbuff, recvbuff, count, datatype, op, root, comm, stream);
        } catch (Throwable t) {
            throw Downcalls.rethrow(t);
        }
    }

    private static final class ncclSend {
        static final FunctionDescriptor DESC = FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG, JAVA_INT, JAVA_INT, ADDRESS, ADDRESS);
        static final MethodHandle HANDLE = Downcalls.link(LibrarySpec.NCCL, "ncclSend", DESC);
    }
    /**
     * {@code ncclResult_t ncclSend(const void *sendbuff, size_t count, ncclDataType_t datatype, int peer, ncclComm_t comm, cudaStream_t stream)}.
     */
    public static int ncclSend(MemorySegment sendbuff, long count, int datatype, int peer, MemorySegment comm, MemorySegment stream) {
        try {
            return (int) ncclSend.HANDLE.invokeExact(sendbuff, count, datatype, peer, comm, stream);
        } catch (Throwable t) {
            throw Downcalls.rethrow(t);
        }
    }

    private static final class ncclRecv {
        static final FunctionDescriptor DESC = FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG, JAVA_INT, JAVA_INT, ADDRESS, ADDRESS);
        static final MethodHandle HANDLE = Downcalls.link(LibrarySpec.NCCL, "ncclRecv", DESC);
    }
    /**
     * {@code ncclResult_t ncclRecv(void *recvbuff, size_t count, ncclDataType_t datatype, int peer, ncclComm_t comm, cudaStream_t stream)}.
     */
    public static int ncclRecv(MemorySegment recvbuff, long count, int datatype, int peer, MemorySegment comm, MemorySegment stream) {
        try {
            return (int) ncclRecv.HANDLE.invokeExact(recvbuff, count, datatype, peer, comm, stream);
        } catch (Throwable t) {
            throw Downcalls.rethrow(t);
        }
    }

    private static final class ncclGroupStart {
        static final FunctionDescriptor DESC = FunctionDescriptor.of(JAVA_INT);
        static final MethodHandle HANDLE = Downcalls.link(LibrarySpec.NCCL, "ncclGroupStart", DESC);
    }
    /**
     * {@code ncclResult_t ncclGroupStart()}.
     */
    public static int ncclGroupStart() {
        try {
            return (int) ncclGroupStart.HANDLE.invokeExact();
        } catch (Throwable t) {
            throw Downcalls.rethrow(t);
        }
    }

    private static final class ncclGroupEnd {
        static final FunctionDescriptor DESC = FunctionDescriptor.of(JAVA_INT);
        static final MethodHandle HANDLE = Downcalls.link(LibrarySpec.NCCL, "ncclGroupEnd", DESC);
    }
    /**
     * {@code ncclResult_t ncclGroupEnd()}.
     */
    public static int ncclGroupEnd() {
        try {
            return (int) ncclGroupEnd.HANDLE.invokeExact();
        } catch (Throwable t) {
            throw Downcalls.rethrow(t);
        }
    }

    private static final class ncclCommRegister {
        static final FunctionDescriptor DESC = FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, JAVA_LONG, ADDRESS);
        static final MethodHandle HANDLE = Downcalls.link(LibrarySpec.NCCL, "ncclCommRegister", DESC);
    }
    /**
     * {@code ncclResult_t ncclCommRegister(const ncclComm_t comm, void *buff, size_t size, void **handle)}.
     */
    public static int ncclCommRegister(MemorySegment comm, MemorySegment buff, long size, MemorySegment handle) {
        try {
            return (int) ncclCommRegister.HANDLE.invokeExact(comm, buff, size, handle);
        } catch (Throwable t) {
            throw Downcalls.rethrow(t);
        }
    }

    private static final class ncclCommDeregister {
        static final FunctionDescriptor DESC = FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS);
        static final MethodHandle HANDLE = Downcalls.link(LibrarySpec.NCCL, "ncclCommDeregister", DESC);
    }
    /**
     * {@code ncclResult_t ncclCommDeregister(const ncclComm_t comm, void *handle)}.
     */
    public static int ncclCommDeregister(MemorySegment comm, MemorySegment handle) {
        try {
            return (int) ncclCommDeregister.HANDLE.invokeExact(comm, handle);
        } catch (Throwable t) {
            throw Downcalls.rethrow(t);
        }
    }

    private static final class ncclMemAlloc {
        static final FunctionDescriptor DESC = FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG);
        static final MethodHandle HANDLE = Downcalls.link(LibrarySpec.NCCL, "ncclMemAlloc", DESC);
    }
    /**
     * {@code ncclResult_t ncclMemAlloc(void **ptr, size_t size)}.
     */
    public static int ncclMemAlloc(MemorySegment ptr, long size) {
        try {
            return (int) ncclMemAlloc.HANDLE.invokeExact(ptr, size);
        } catch (Throwable t) {
            throw Downcalls.rethrow(t);
        }
    }

    private static final class ncclMemFree {
        static final FunctionDescriptor DESC = FunctionDescriptor.of(JAVA_INT, ADDRESS);
        static final MethodHandle HANDLE = Downcalls.link(LibrarySpec.NCCL, "ncclMemFree", DESC);
    }
    /**
     * {@code ncclResult_t ncclMemFree(void *ptr)}.
     */
    public static int ncclMemFree(MemorySegment ptr) {
        try {
            return (int) ncclMemFree.HANDLE.invokeExact(ptr);
        } catch (Throwable t) {
            throw Downcalls.rethrow(t);
        }
    }
}
