/**
 * Supervised warm start of the policy on a task's demonstrations, and held-out evaluation by greedy generation.
 */
package io.yatt.trainer.sft;
