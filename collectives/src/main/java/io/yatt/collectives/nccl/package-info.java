/**
 * The nccl backend: one GPU per rank over NCCL, bootstrapped from a unique id exchanged through the rendezvous store,
 * with non-blocking initialization, deadlines on every wait, async-error polling and abort. Not exported.
 */
package io.yatt.collectives.nccl;
