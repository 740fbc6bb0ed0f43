/** JMH benchmarks of tensor copies against MemorySegment.copy and libc memcpy. */
package io.yatt.bench.tensor;
