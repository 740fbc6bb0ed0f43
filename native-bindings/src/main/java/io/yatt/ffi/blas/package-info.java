/** Idiomatic CBLAS API: availability, OpenBLAS's configuration and threads, and checked single-precision GEMM. */
package io.yatt.ffi.blas;
