package io.yatt.collectives.nccl;

import io.yatt.collectives.CollectiveKind;
import io.yatt.collectives.Communicator;
import io.yatt.collectives.ReduceOp;
import io.yatt.collectives.RendezvousConfig;
import io.yatt.collectives.internal.DeviceTensors;
import io.yatt.ffi.cuda.Cuda;
import io.yatt.ffi.nccl.NcclUniqueId;
import io.yatt.tensor.Allocator;
import io.yatt.tensor.DType;
import io.yatt.tensor.Device;
import io.yatt.tensor.Shape;
import io.yatt.tensor.Tensor;

import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/** What the nccl backend checks and encodes without a GPU: environment, tensor placement, ops, debug signatures. */
class NcclGpuCommunicatorTest {
    private static final String NO_DEVICE = "nccl backend needs a CUDA device: deviceCount=0, status=";

    @Test
    void shouldRefuseToInitializeWithoutADevice() {
        assumeTrue(Cuda.deviceCount() == 0, "a device is present");
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> NcclGpuCommunicator.create(0, 1, 0,
                new NcclUniqueId(new byte[NcclUniqueId.BYTE_SIZE]), new Communicator.Context()));
        assertEquals(NO_DEVICE + Cuda.status().message(), e.getMessage());
    }

    @Test
    void shouldRefuseToJoinARendezvousWithoutADevice() {
        assumeTrue(Cuda.deviceCount() == 0, "a device is present");
        RendezvousConfig config = RendezvousConfig.of(0, 1, "127.0.0.1", 0);
        IllegalStateException e = assertThrows(IllegalStateException.class,
                () -> NcclGpuCommunicator.create(config, new Communicator.Context()));
        assertEquals(NO_DEVICE + Cuda.status().message(), e.getMessage());
    }

    @Test
    void shouldRefuseADeviceOutOfRange() {
        assumeTrue(Cuda.deviceCount() > 0, "no CUDA device");
        int count = Cuda.deviceCount();
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> NcclGpuCommunicator.requireEnvironment(count));
        assertEquals("device out of range: device=" + count + ", deviceCount=" + count, e.getMessage());
    }

    @Test
    void shouldRejectHostTensors() {
        try (Allocator allocator = Allocator.root("nccl-test");
             Tensor host = Tensor.allocate(allocator, DType.BF16, Shape.of(2, 3), Device.host())) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> DeviceTensors.requireDevice(NcclGpuCommunicator.BACKEND, "recv", host, 1));
            assertEquals("nccl backend needs cuda tensors: device=host, name=recv, expected=cuda:1", e.getMessage());
        }
    }

    @Test
    void shouldMapEveryReduceOpToTheNcclOpWithTheSameCode() {
        for (ReduceOp op : ReduceOp.values()) {
            assertEquals(op.ncclCode(), NcclGpuCommunicator.redOp(op).code(), op.name());
            assertEquals(op.name(), NcclGpuCommunicator.redOp(op).name());
        }
    }

    @Test
    void shouldEncodeCallSignaturesForTheDebugCheckAsMessagesPrintThem() {
        List<NcclCall> calls = List.of(
                new NcclCall(CollectiveKind.ALL_REDUCE, 0, 0, 16, DType.F32, ReduceOp.SUM, -1),
                new NcclCall(CollectiveKind.BROADCAST, 0, 0, 4, DType.F64, null, 1),
                new NcclCall(CollectiveKind.BARRIER, 0, 0, 0, null, null, -1));
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment slot = arena.allocate(NcclGpuCommunicator.SIGNATURE_LONGS * Long.BYTES);
            NcclGpuCommunicator.encode(calls, slot);
            assertEquals(List.of("allReduce(count=16, dtype=F32, op=SUM)", "broadcast(count=4, dtype=F64, root=1)",
                    "barrier()"), NcclGpuCommunicator.decode(slot));
        }
    }

    @Test
    void shouldMarkAGroupLongerThanTheCheckedPrefixWithItsCallCount() {
        List<NcclCall> calls = new ArrayList<>();
        for (int i = 0; i < NcclGpuCommunicator.MAX_CHECKED_CALLS + 2; i++) {
            calls.add(new NcclCall(CollectiveKind.ALL_GATHER, 0, 0, i, DType.I8, null, -1));
        }
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment slot = arena.allocate(NcclGpuCommunicator.SIGNATURE_LONGS * Long.BYTES);
            NcclGpuCommunicator.encode(calls, slot);
            List<String> decoded = NcclGpuCommunicator.decode(slot);
            assertEquals(NcclGpuCommunicator.MAX_CHECKED_CALLS + 1, decoded.size());
            assertEquals("allGather(count=7, dtype=I8)", decoded.get(7));
            assertEquals("... (calls=10)", decoded.getLast());
        }
    }
}
