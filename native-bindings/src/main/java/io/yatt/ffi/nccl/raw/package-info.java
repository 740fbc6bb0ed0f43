/** Raw FFM downcalls into NCCL: C names, primitives and memory segments only. */
package io.yatt.ffi.nccl.raw;
