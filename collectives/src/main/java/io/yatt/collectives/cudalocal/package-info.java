/**
 * The cuda-local backend: several ranks as threads of one JVM on one or more CUDA devices, moving device memory with
 * asynchronous device and peer copies on per-rank streams; the in-process backend carries its control plane
 * (barriers, deadlines, point-to-point descriptors) and, through pinned host staging, its reductions. Not exported.
 */
package io.yatt.collectives.cudalocal;
