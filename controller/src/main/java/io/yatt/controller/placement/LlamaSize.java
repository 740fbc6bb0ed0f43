package io.yatt.controller.placement;

import io.yatt.hybrid.ModelSpec;
import io.yatt.tensor.DType;
import java.util.Arrays;
import java.util.Locale;
import java.util.stream.Collectors;

/**
 * The Llama shapes HybridFlow evaluates: Llama-2 7B, 13B and 70B (published configs) and the 34B shape of Code
 * Llama 34B (Llama 2 34B was not released). Weights in bf16, vocabulary 32000 padded to a multiple of
 * {@link #VOCAB_PAD_MULTIPLE}.
 */
public enum LlamaSize {
    /** Llama-2-7B: 32 layers, hidden 4096, 32 heads (MHA), MLP 11008. */
    L7B("7b", 32, 4096, 32, 32, 11008),
    /** Llama-2-13B: 40 layers, hidden 5120, 40 heads (MHA), MLP 13824. */
    L13B("13b", 40, 5120, 40, 40, 13824),
    /** Code Llama 34B: 48 layers, hidden 8192, 64 heads, 8 KV heads (GQA), MLP 22016. */
    L34B("34b", 48, 8192, 64, 8, 22016),
    /** Llama-2-70B: 80 layers, hidden 8192, 64 heads, 8 KV heads (GQA), MLP 28672. */
    L70B("70b", 80, 8192, 64, 8, 28672);

    /** Vocabulary size of every Llama 2 model. */
    public static final long VOCAB = 32000;
    /** The vocabulary is padded to a multiple of the largest TP degree the planner tries (one node of 8 GPUs). */
    public static final int VOCAB_PAD_MULTIPLE = 8;

    private final String cliName;
    private final ModelSpec.DecoderConfig config;

    LlamaSize(String cliName, int layers, long hidden, int heads, int kvHeads, long ffn) {
        this.cliName = cliName;
        this.config = new ModelSpec.DecoderConfig(layers, hidden, heads, kvHeads, ffn, VOCAB, DType.BF16,
                VOCAB_PAD_MULTIPLE, false);
    }

    /** The name used on the command line, e.g. {@code 70b}. */
    public String cliName() {
        return cliName;
    }

    /** The decoder's sizes. */
    public ModelSpec.DecoderConfig config() {
        return config;
    }

    /**
     * The size with a CLI name (case-insensitive).
     *
     * @throws IllegalArgumentException if there is none
     */
    public static LlamaSize parse(String name) {
        String key = name == null ? "" : name.strip().toLowerCase(Locale.ROOT);
        for (LlamaSize s : values()) {
            if (s.cliName.equals(key)) {
                return s;
            }
        }
        throw new IllegalArgumentException("unknown model size: model=" + name + ", expected one of "
                + Arrays.stream(values()).map(LlamaSize::cliName).collect(Collectors.joining(", ", "[", "]")));
    }
}
