/**
 * The RLHF loop of {@code yatt train}: ranks as threads over the in-process backend, the actor's rollout in the
 * generation layout through the hybrid engine, advantages and PPO updates.
 */
package io.yatt.trainer.loop;
