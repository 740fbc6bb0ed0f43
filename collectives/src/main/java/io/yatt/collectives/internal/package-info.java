/** Pieces every backend shares (argument checks, call signatures, reduction kernels); not exported. */
package io.yatt.collectives.internal;
