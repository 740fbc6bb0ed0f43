package io.yatt.trainer.task;

import java.util.Random;

/**
 * Draws prompt indices epoch by epoch, each epoch a fresh permutation seeded by {@code (seed, epoch)}, and can be
 * stopped and restored at any position (its {@link State} goes into checkpoints), so a resumed run draws exactly the
 * prompts an uninterrupted run would. Batches cross epoch boundaries without dropping prompts. Mutable; confined to
 * one thread.
 */
public final class PromptSampler {

    private final int size;
    private final long seed;
    private long epoch;
    private int position;
    private int[] order;

    private PromptSampler(int size, long seed, long epoch, int position) {
        this.size = size;
        this.seed = seed;
        this.epoch = epoch;
        this.position = position;
        this.order = permutation(size, seed, epoch);
    }

    /**
     * A sampler at the start of epoch 0.
     *
     * @throws IllegalArgumentException if {@code size < 1}
     */
    public static PromptSampler of(int size, long seed) {
        return restore(size, seed, new State(0, 0));
    }

    /**
     * A sampler at a saved position.
     *
     * @throws IllegalArgumentException if {@code size < 1} or the state does not fit {@code size}
     */
    public static PromptSampler restore(int size, long seed, State state) {
        if (size < 1) {
            throw new IllegalArgumentException("sampler needs at least one prompt: size=" + size);
        }
        if (state.epoch() < 0 || state.position() < 0 || state.position() >= size) {
            throw new IllegalArgumentException("sampler state does not fit: epoch=" + state.epoch() + ", position="
                    + state.position() + ", size=" + size);
        }
        return new PromptSampler(size, seed, state.epoch(), state.position());
    }

    /**
     * The next {@code count} prompt indices, continuing into the next epoch when this one runs out.
     *
     * @throws IllegalArgumentException if {@code count < 0}
     */
    public int[] next(int count) {
        if (count < 0) {
            throw new IllegalArgumentException("sample count must be >= 0: count=" + count);
        }
        int[] indices = new int[count];
        for (int i = 0; i < count; i++) {
            indices[i] = order[position++];
            if (position == size) {
                epoch++;
                position = 0;
                order = permutation(size, seed, epoch);
            }
        }
        return indices;
    }

    /** The position to save: the next draw is {@code (epoch, position)}. */
    public State state() {
        return new State(epoch, position);
    }

    /** The permutation of epoch {@code epoch}: Fisher-Yates with {@link Random} seeded by {@code seed} and epoch. */
    static int[] permutation(int size, long seed, long epoch) {
        int[] order = new int[size];
        for (int i = 0; i < size; i++) {
            order[i] = i;
        }
        shuffle(order, new Random(seed * 0x9E3779B97F4A7C15L + epoch));
        return order;
    }

    static void shuffle(int[] values, Random random) {
        for (int i = values.length - 1; i > 0; i--) {
            int j = random.nextInt(i + 1);
            int swap = values[i];
            values[i] = values[j];
            values[j] = swap;
        }
    }

    /**
     * A sampler position.
     *
     * @param epoch completed passes over the prompts
     * @param position index into this epoch's permutation of the next draw
     */
    public record State(long epoch, int position) {
    }
}
