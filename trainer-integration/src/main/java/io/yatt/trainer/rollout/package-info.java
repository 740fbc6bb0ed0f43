/**
 * Split rollout: generation on ranks of its own, fed with the actor's generation-layout weights through
 * {@link io.yatt.hybrid.WeightSync} after each update, synchronous or one step off-policy.
 */
package io.yatt.trainer.rollout;
