/** Raw FFM downcalls into the CUDA runtime and driver: C names, primitives and memory segments only. */
package io.yatt.ffi.cuda.raw;
