/** Helpers shared inside the bindings (linking for the raw CUDA and NCCL classes, opaque byte records); not exported. */
package io.yatt.ffi.internal;
