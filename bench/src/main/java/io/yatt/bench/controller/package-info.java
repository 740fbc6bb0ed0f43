/**
 * Benchmarks of the control plane: {@code yatt bench control} times no-op calls against raw Aeron ping-pong and gRPC,
 * and counts the bytes and heap a controller handles per step with data by reference and inline.
 */
package io.yatt.bench.controller;
