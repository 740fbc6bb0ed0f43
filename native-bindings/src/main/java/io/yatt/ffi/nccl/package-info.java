/** Idiomatic NCCL API: version, unique ids, owned communicators with deadlines, collectives and typed errors. */
package io.yatt.ffi.nccl;
