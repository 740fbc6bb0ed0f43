/**
 * Hand-written Panama FFM bindings to the CUDA runtime, NCCL and CBLAS: library discovery, raw downcalls,
 * and an idiomatic layer of owned resources and typed exceptions.
 */
module io.yatt.ffi {
    exports io.yatt.ffi;
    exports io.yatt.ffi.cuda;
    exports io.yatt.ffi.nccl;
    exports io.yatt.ffi.blas;
    exports io.yatt.ffi.cuda.raw to io.yatt.tensor, io.yatt.collectives;
    exports io.yatt.ffi.nccl.raw to io.yatt.tensor, io.yatt.collectives;
}
