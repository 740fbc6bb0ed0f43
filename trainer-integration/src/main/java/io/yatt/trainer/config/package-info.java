/** The typed, immutable configuration of {@code yatt train}: YAML plus dotted overrides, validated once. */
package io.yatt.trainer.config;
