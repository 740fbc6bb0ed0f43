/**
 * The RLHF loop of {@code yatt train}: the roles as worker groups through the controller ({@code RlhfWorker} on every
 * rank, embedded as worker threads over the in-process backend), the actor's rollout in the generation layout through
 * the hybrid engine, advantages on the driver, PPO updates on the workers, and C parallel controllers.
 */
package io.yatt.trainer.loop;
