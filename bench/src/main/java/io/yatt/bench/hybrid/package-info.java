/** Benchmarks of the 3D-HybridEngine: {@code yatt bench reshard} times train-to-generation transitions against the copy floor. */
package io.yatt.bench.hybrid;
