/** Entry point of {@code yatt bench}: sweeps, and JMH benchmarks in the sub-packages that mirror the code they measure. */
package io.yatt.bench;
