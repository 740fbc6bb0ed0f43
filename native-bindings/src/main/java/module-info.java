/**
 * Hand-written Panama FFM bindings to the CUDA runtime, NCCL and CBLAS: library discovery, raw downcalls,
 * and an idiomatic layer of owned resources and typed exceptions.
 */
module io.yatt.ffi {
    exports io.yatt.ffi;
    exports io.yatt.ffi.cuda;
    exports io.yatt.ffi.nccl;
    exports io.yatt.ffi.blas;
    // io.yatt.ffi.cuda.raw, io.yatt.ffi.nccl.raw and io.yatt.ffi.blas.raw (the raw downcalls) are exported to no module: none uses them
    // (tensor and collectives go through io.yatt.ffi.cuda and io.yatt.ffi.nccl); class-path code such as the JMH
    // benchmarks still reaches them.
}
