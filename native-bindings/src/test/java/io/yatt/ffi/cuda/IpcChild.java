package io.yatt.ffi.cuda;

import java.util.HexFormat;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;

/** Second process of {@link CudaGpuTest}: opens a parent's IPC handle, checks the bytes, writes a marker. */
final class IpcChild {
    private IpcChild() {
    }

    public static void main(String[] args) {
        IpcMemHandle handle = new IpcMemHandle(HexFormat.of().parseHex(args[0]));
        long byteSize = Long.parseLong(args[1]);
        try (DeviceBuffer mapped = DeviceBuffer.openIpc(handle, 0, byteSize);
                PinnedHostBuffer host = PinnedHostBuffer.allocate(byteSize);
                CudaStream stream = CudaStream.create(0)) {
            Cuda.memcpyAsync(host.segment(), mapped.pointer(), byteSize, stream);
            stream.synchronize();
            for (long i = 0; i < byteSize; i++) {
                if (host.segment().get(JAVA_BYTE, i) != 0x3c) {
                    System.out.println("IPC-MISMATCH at=" + i + " value=" + host.segment().get(JAVA_BYTE, i));
                    System.exit(2);
                }
            }
            Cuda.memsetAsync(mapped.pointer(), 0x7e, 256, stream);
            stream.synchronize();
            System.out.println("IPC-OK bytes=" + byteSize + " value=3c");
        }
    }
}
