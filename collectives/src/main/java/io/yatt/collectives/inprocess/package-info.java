/** The in-process backend: ranks as threads of one JVM exchanging host tensors by direct copies; not exported. */
package io.yatt.collectives.inprocess;
