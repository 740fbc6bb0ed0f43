/** Off-heap tensors on host and CUDA devices, allocators with accounting, safetensors read and write. */
module io.yatt.tensor {
    requires transitive io.yatt.ffi;
    requires com.fasterxml.jackson.databind;

    exports io.yatt.tensor;
}
