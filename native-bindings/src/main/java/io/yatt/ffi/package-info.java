/** Native library discovery and the exceptions shared by the CUDA and NCCL bindings. */
package io.yatt.ffi;
