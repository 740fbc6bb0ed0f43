/** Raw FFM downcalls into CBLAS and OpenBLAS's extensions: C names, primitives and memory segments only. */
package io.yatt.ffi.blas.raw;
