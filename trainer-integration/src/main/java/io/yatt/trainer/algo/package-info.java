/**
 * RL algorithms on {@code [batch, seq]} tensors with response masks, matching verl's {@code core_algos.py} and
 * {@code torch_functional.py}: masked statistics, advantage estimators, policy and value losses with their gradients
 * with respect to the log-probabilities, KL penalties and controllers, loss aggregation and Safe-RLHF; selected by
 * the names users put in configs through {@link io.yatt.trainer.algo.AlgorithmRegistry}.
 */
package io.yatt.trainer.algo;
