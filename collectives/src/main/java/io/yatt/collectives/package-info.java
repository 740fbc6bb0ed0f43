/** The collectives API: {@link io.yatt.collectives.Communicator}, {@link io.yatt.collectives.ReduceOp}, {@link io.yatt.collectives.DeviceMesh}, groups, handles and failures. */
package io.yatt.collectives;
