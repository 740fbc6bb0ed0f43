/** JMH benchmarks of FFM downcall overhead against JNI. */
package io.yatt.bench.ffi;
