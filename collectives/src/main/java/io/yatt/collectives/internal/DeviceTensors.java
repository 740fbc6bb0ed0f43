package io.yatt.collectives.internal;

import io.yatt.tensor.Device;
import io.yatt.tensor.Tensor;

/**
 * The tensor checks and raw pointers the GPU backends (nccl, cuda-local) share: a tensor must live on the rank's
 * CUDA device, and an empty tensor's pointer is 0. Stateless.
 */
public final class DeviceTensors {

    private DeviceTensors() {
    }

    /**
     * Checks that a call's send and recv tensors live on the rank's CUDA device (send first).
     *
     * @throws NullPointerException naming {@code send} or {@code recv}
     * @throws IllegalArgumentException as {@link #requireDevice(String, String, Tensor, int)}
     */
    public static void requireDevice(String backend, Tensor send, Tensor recv, int device) {
        requireDevice(backend, "send", send, device);
        requireDevice(backend, "recv", recv, device);
    }

    /**
     * Checks that a tensor lives on the rank's CUDA device.
     *
     * @throws NullPointerException {@code name} if the tensor is null
     * @throws IllegalArgumentException {@code nccl backend needs cuda tensors: device=host, name=send,
     *         expected=cuda:0}, or {@code tensor on another device: name=send, device=cuda:1, expected=cuda:0,
     *         backend=nccl}
     */
    public static void requireDevice(String backend, String name, Tensor tensor, int device) {
        if (tensor == null) {
            throw new NullPointerException(name);
        }
        Device actual = tensor.device();
        if (actual.isHost()) {
            throw new IllegalArgumentException(backend + " backend needs cuda tensors: device=host, name=" + name
                    + ", expected=cuda:" + device);
        }
        if (actual.ordinal() != device) {
            throw new IllegalArgumentException("tensor on another device: name=" + name + ", device=" + actual
                    + ", expected=cuda:" + device + ", backend=" + backend);
        }
    }

    /** The address of a tensor's first element, 0 for an empty tensor (it may have no data pointer). */
    public static long address(Tensor tensor) {
        return tensor.byteSize() == 0 ? 0 : tensor.dataPointer().address();
    }
}
