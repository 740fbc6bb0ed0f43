/** A tensor-parallel Llama-style decoder on host memory: forward, backward, AdamW, sampling, checkpoints. */
package io.yatt.trainer.model;
