package io.yatt.trainer.model;

import io.yatt.hybrid.ModelSpec;
import io.yatt.tensor.DType;

/**
 * The size of a Llama decoder with Hugging Face {@code LlamaConfig}'s keys (in camel case). Validated on
 * construction; immutable and thread-safe.
 *
 * @param hiddenSize {@code hidden_size}, C
 * @param intermediateSize {@code intermediate_size}, the MLP width F
 * @param numAttentionHeads {@code num_attention_heads}, query heads NH
 * @param numKeyValueHeads {@code num_key_value_heads}, key/value heads (grouped-query attention)
 * @param numHiddenLayers {@code num_hidden_layers}, L
 * @param vocabSize {@code vocab_size}, V (before any padding)
 * @param rmsNormEps {@code rms_norm_eps}
 * @param ropeTheta {@code rope_theta}, the rotary base
 * @param maxPositionEmbeddings {@code max_position_embeddings}, the longest sequence
 * @param tieWordEmbeddings {@code tie_word_embeddings}: lm_head shares the embedding's weight
 */
public record LlamaConfig(int hiddenSize, int intermediateSize, int numAttentionHeads, int numKeyValueHeads,
                          int numHiddenLayers, int vocabSize, double rmsNormEps, double ropeTheta,
                          int maxPositionEmbeddings, boolean tieWordEmbeddings) {

    /** Hugging Face's default {@code rms_norm_eps}. */
    public static final double DEFAULT_RMS_NORM_EPS = 1e-6;
    /** Hugging Face's default {@code rope_theta}. */
    public static final double DEFAULT_ROPE_THETA = 10000.0;
    /** Default {@code max_position_embeddings}. */
    public static final int DEFAULT_MAX_POSITION_EMBEDDINGS = 2048;

    /**
     * @throws IllegalArgumentException naming the value if a size is not positive, hidden is not a multiple of heads,
     *         heads not a multiple of kv heads, the head dimension is odd, eps not positive or theta not above 1
     */
    public LlamaConfig {
        requirePositive("hidden_size", hiddenSize);
        requirePositive("intermediate_size", intermediateSize);
        requirePositive("num_attention_heads", numAttentionHeads);
        requirePositive("num_key_value_heads", numKeyValueHeads);
        requirePositive("num_hidden_layers", numHiddenLayers);
        requirePositive("vocab_size", vocabSize);
        requirePositive("max_position_embeddings", maxPositionEmbeddings);
        if (hiddenSize % numAttentionHeads != 0) {
            throw new IllegalArgumentException("hidden_size must be a multiple of num_attention_heads: hidden_size="
                    + hiddenSize + ", num_attention_heads=" + numAttentionHeads);
        }
        if (numAttentionHeads % numKeyValueHeads != 0) {
            throw new IllegalArgumentException("num_attention_heads must be a multiple of num_key_value_heads: "
                    + "num_attention_heads=" + numAttentionHeads + ", num_key_value_heads=" + numKeyValueHeads);
        }
        if ((hiddenSize / numAttentionHeads) % 2 != 0) {
            throw new IllegalArgumentException("head dimension must be even for rotary embeddings: head_dim="
                    + hiddenSize / numAttentionHeads + ", hidden_size=" + hiddenSize + ", num_attention_heads="
                    + numAttentionHeads);
        }
        if (!(rmsNormEps > 0) || Double.isInfinite(rmsNormEps)) {
            throw new IllegalArgumentException("rms_norm_eps must be positive and finite: rms_norm_eps=" + rmsNormEps);
        }
        if (!(ropeTheta > 1) || Double.isInfinite(ropeTheta)) {
            throw new IllegalArgumentException("rope_theta must be finite and above 1: rope_theta=" + ropeTheta);
        }
    }

    /**
     * A config with Hugging Face's defaults for eps, theta, positions and untied embeddings.
     *
     * @throws IllegalArgumentException as the canonical constructor
     */
    public static LlamaConfig of(int hidden, int layers, int heads, int kvHeads, int ffn, int vocab) {
        return new LlamaConfig(hidden, ffn, heads, kvHeads, layers, vocab, DEFAULT_RMS_NORM_EPS, DEFAULT_ROPE_THETA,
                DEFAULT_MAX_POSITION_EMBEDDINGS, false);
    }

    /** Elements per attention head: {@code hidden_size / num_attention_heads}. */
    public int headDim() {
        return hiddenSize / numAttentionHeads;
    }

    /** The vocabulary rounded up to a multiple of {@code vocabPadMultiple}. */
    public int paddedVocab(int vocabPadMultiple) {
        if (vocabPadMultiple <= 0) {
            throw new IllegalArgumentException("vocab pad multiple must be positive: vocabPadMultiple="
                    + vocabPadMultiple);
        }
        return (vocabSize + vocabPadMultiple - 1) / vocabPadMultiple * vocabPadMultiple;
    }

    /**
     * The hybrid engine's spec of this model (fused QKV and gate/up, {@code [out, in]}, padded vocabulary), the
     * names and layouts that {@link LlamaModel} reads.
     *
     * @throws IllegalArgumentException if the pad multiple is not positive
     */
    public ModelSpec modelSpec(DType dtype, int vocabPadMultiple) {
        return ModelSpec.llama(numHiddenLayers, hiddenSize, numAttentionHeads, numKeyValueHeads, intermediateSize,
                vocabSize, dtype, vocabPadMultiple);
    }

    /**
     * Checks that {@code tp} ranks can split this model: tp and the kv heads divide one another (with tp above the kv
     * heads each kv head is replicated on {@code tp / num_key_value_heads} ranks), tp divides the heads and the MLP
     * width.
     *
     * @throws IllegalArgumentException naming the value that does not fit tp
     */
    public void requireTensorParallel(int tp) {
        if (tp <= 0) {
            throw new IllegalArgumentException("tensor-parallel degree must be positive: tp=" + tp);
        }
        if (numKeyValueHeads % tp != 0 && tp % numKeyValueHeads != 0) {
            throw new IllegalArgumentException("tensor-parallel degree and num_key_value_heads must divide one "
                    + "another: num_key_value_heads=" + numKeyValueHeads + ", tp=" + tp);
        }
        if (numAttentionHeads % tp != 0) {
            throw new IllegalArgumentException("tensor-parallel degree must divide num_attention_heads: "
                    + "num_attention_heads=" + numAttentionHeads + ", tp=" + tp);
        }
        if (intermediateSize % tp != 0) {
            throw new IllegalArgumentException("tensor-parallel degree must divide intermediate_size: "
                    + "intermediate_size=" + intermediateSize + ", tp=" + tp);
        }
    }

    /**
     * How many of {@code tp} ranks hold each kv head: {@code tp / num_key_value_heads} when tp exceeds the kv heads,
     * else 1.
     *
     * @throws IllegalArgumentException as {@link #requireTensorParallel}
     */
    public int kvReplicas(int tp) {
        requireTensorParallel(tp);
        return tp > numKeyValueHeads ? tp / numKeyValueHeads : 1;
    }

    private static void requirePositive(String key, int value) {
        if (value <= 0) {
            throw new IllegalArgumentException(key + " must be positive: " + key + "=" + value);
        }
    }
}
