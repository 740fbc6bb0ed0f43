/** Idiomatic CUDA runtime API: status, devices, owned device and pinned buffers, streams, events and typed errors. */
package io.yatt.ffi.cuda;
