/**
 * Tasks the trainer learns: the bundled verifiable tasks generated from a seed (addition, digit sorting), their
 * character tokenizer, rewards, Safe-RLHF cost and SFT demonstrations, and the custom-task SPI (a prompts JSONL file
 * plus a {@link io.yatt.trainer.task.RewardFunction} class on the class path).
 */
package io.yatt.trainer.task;
