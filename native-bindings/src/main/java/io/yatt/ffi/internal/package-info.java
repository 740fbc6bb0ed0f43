/** Linking helpers shared by the raw CUDA and NCCL binding classes; not exported. */
package io.yatt.ffi.internal;
