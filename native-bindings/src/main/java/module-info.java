/**
 * Hand-written Panama FFM bindings to the CUDA runtime and NCCL: library discovery, raw downcalls,
 * and an idiomatic layer of owned resources and typed exceptions.
 */
module io.yatt.ffi {
    exports io.yatt.ffi;
    exports io.yatt.ffi.cuda;
    exports io.yatt.ffi.nccl;
    // io.yatt.ffi.cuda.raw and io.yatt.ffi.nccl.raw (the raw downcalls) are exported to no module: none uses them
    // (tensor and collectives go through io.yatt.ffi.cuda and io.yatt.ffi.nccl); class-path code such as the JMH
    // benchmarks still reaches them.
}
