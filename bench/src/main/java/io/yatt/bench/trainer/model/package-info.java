/** JMH benchmarks of the trainer's model kernels: matrix multiply in Java and through BLAS. */
package io.yatt.bench.trainer.model;
