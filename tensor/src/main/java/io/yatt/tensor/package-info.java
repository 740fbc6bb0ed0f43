/** Tensors over host and device memory: dtypes, shapes, devices, named allocators, views, copies and safetensors. */
package io.yatt.tensor;
