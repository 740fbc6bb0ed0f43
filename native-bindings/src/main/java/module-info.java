/** Hand-written Panama FFM bindings to the CUDA runtime and NCCL. */
module io.yatt.ffi {
    exports io.yatt.ffi;
}
