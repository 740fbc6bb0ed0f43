/**
 * What a run leaves in {@code runs/<name>/}: the resolved config, per-step metrics as JSONL and CSV, PNG plots, an
 * end-of-run summary and atomically written, checksummed checkpoints; plus the progress display.
 */
package io.yatt.trainer.run;
