package io.yatt.ffi.nccl;

import io.yatt.ffi.cuda.Cuda;
import io.yatt.ffi.cuda.CudaStream;
import io.yatt.ffi.cuda.DeviceBuffer;
import io.yatt.ffi.cuda.PinnedHostBuffer;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/** NCCL on a real GPU with one rank; skipped without a device or without NCCL. */
@Tag("gpu")
class NcclGpuTest {
    private static final long TIMEOUT_NS = 60_000_000_000L;

    @BeforeEach
    void requireDeviceAndNccl() {
        assumeTrue(Cuda.deviceCount() > 0, "no CUDA device: " + Cuda.status().message());
        assumeTrue(Nccl.available(), "NCCL library not found; run eval \"$(scripts/find-nccl.sh)\"");
        Cuda.setDevice(0);
    }

    @Test
    void shouldAllReduceOnOneRank() {
        long count = 1 << 20;
        try (NcclCommunicator comm = NcclCommunicator.init(1, Nccl.uniqueId(), 0, TIMEOUT_NS);
                CudaStream stream = CudaStream.create(0, true);
                DeviceBuffer send = DeviceBuffer.allocate(0, count * 4);
                DeviceBuffer recv = DeviceBuffer.allocate(0, count * 4);
                PinnedHostBuffer host = PinnedHostBuffer.allocate(count * 4)) {
            assertEquals(1, comm.count());
            assertEquals(0, comm.userRank());
            assertEquals(0, comm.device());
            assertSame(NcclResult.ncclSuccess, comm.asyncError());
            for (long i = 0; i < count; i++) {
                host.segment().setAtIndex(JAVA_FLOAT, i, i * 0.5f);
            }
            Cuda.memcpyAsync(send.pointer(), host.segment(), count * 4, stream);
            comm.allReduce(send.pointer(), recv.pointer(), count, NcclDataType.FLOAT32, NcclRedOp.SUM, stream);
            NcclCommunicator.groupStart();
            comm.allGather(recv.pointer(), send.pointer(), count, NcclDataType.FLOAT32, stream);
            NcclCommunicator.groupEnd();
            host.segment().fill((byte) 0);
            Cuda.memcpyAsync(host.segment(), send.pointer(), count * 4, stream);
            stream.synchronize();
            for (long i = 0; i < count; i++) {
                assertEquals(i * 0.5f, host.segment().getAtIndex(JAVA_FLOAT, i));
            }
            try (NcclCommunicator child = comm.split(0, 0)) {
                assertEquals(1, child.count());
            }
            assertNull(comm.split(NcclCommunicator.NO_COLOR, 0));
            comm.finalizeComm();
        }
    }

    @Test
    void shouldThrowOnSecondCloseAndIgnoreCloseAfterAbort() {
        NcclCommunicator comm = NcclCommunicator.init(1, Nccl.uniqueId(), 0, TIMEOUT_NS);
        comm.close();
        assertThrows(IllegalStateException.class, comm::close);
        NcclCommunicator aborted = NcclCommunicator.init(1, Nccl.uniqueId(), 0, TIMEOUT_NS);
        aborted.abort();
        aborted.close();
        assertThrows(IllegalStateException.class, aborted::abort);
    }

    @Test
    void shouldTimeOutWhenPeersNeverJoin() {
        NcclException e = assertThrows(NcclException.class,
                () -> NcclCommunicator.init(2, Nccl.uniqueId(), 0, 2_000_000_000L));
        assertEquals("ncclCommInitRankConfig timed out: timeoutNs=2000000000, rank=0, nRanks=2; communicator aborted"
                + " (are all ranks up?)", e.getMessage());
    }
}
