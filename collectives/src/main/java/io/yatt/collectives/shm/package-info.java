/** Shared-memory backend: one process per rank on one host, regions in /dev/shm, zero-copy reads of peers' tensors. */
package io.yatt.collectives.shm;
