package io.yatt.trainer.task;

import io.yatt.trainer.config.AdvantageEstimator;
import io.yatt.trainer.config.TrainConfig;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Random;

/**
 * A task: its tokenizer, training and held-out prompts (disjoint), reward, optional Safe-RLHF cost and SFT
 * demonstrations. The bundled tasks are generated from a seed: {@code addition} ({@code "12+7="} answered
 * {@code "19"}, both operands in 0..99) and {@code sort} ({@code "3142>"} answered {@code "1234"}, four digits);
 * each draws training and held-out prompts from its 10,000 distinct problems without overlap. Immutable and
 * thread-safe if its reward and cost functions are.
 */
public final class Task {

    /** Largest operand of the addition task. */
    public static final int ADDITION_MAX_OPERAND = 99;
    /** Digits per sort prompt. */
    public static final int SORT_DIGITS = 4;
    /** Distinct problems of each bundled task. */
    public static final int BUNDLED_PROBLEMS = 10_000;

    private final String name;
    private final CharTokenizer tokenizer;
    private final List<Prompt> train;
    private final List<Prompt> heldOut;
    private final RewardFunction reward;
    private final CostFunction cost;

    private Task(String name, CharTokenizer tokenizer, List<Prompt> train, List<Prompt> heldOut, RewardFunction reward,
            CostFunction cost) {
        this.name = name;
        this.tokenizer = tokenizer;
        this.train = List.copyOf(train);
        this.heldOut = List.copyOf(heldOut);
        this.reward = reward;
        this.cost = cost;
    }

    /**
     * The task a config names, checked against the prompt and response lengths.
     *
     * @param loader where a custom task's reward and cost classes are found
     * @throws IllegalArgumentException if the sizes do not fit the task, a prompt or answer does not fit the lengths,
     *         or a custom task's file or classes cannot be used (naming the path or class)
     */
    public static Task fromConfig(TrainConfig config, ClassLoader loader) {
        TrainConfig.Data data = config.data();
        Task task = switch (data.task()) {
            case ADDITION -> addition(data.seed(), data.trainSize(), data.valSize());
            case SORT -> sort(data.seed(), data.trainSize(), data.valSize());
            case CUSTOM -> {
                RewardFunction reward = TaskClasses.load("reward", data.rewardClass(), RewardFunction.class, loader);
                CostFunction cost = data.costClass().isBlank() ? null
                        : TaskClasses.load("cost", data.costClass(), CostFunction.class, loader);
                if (cost == null && config.algorithm().advEstimator() == AdvantageEstimator.SAFE_RLHF) {
                    throw new IllegalArgumentException("algorithm.adv_estimator=safe_rlhf with data.task=custom needs "
                            + "data.cost_class: data.cost_class=''");
                }
                yield custom(Path.of(data.trainFiles()), reward, cost, data.seed(), data.trainSize(), data.valSize());
            }
        };
        task.requireFits(data.maxPromptLength(), config.actorRolloutRef().rollout().responseLength());
        return task;
    }

    /**
     * The addition task: {@code a+b=} answered {@code a+b}, with {@code a, b} in 0..99.
     *
     * @throws IllegalArgumentException if {@code trainSize + valSize} exceeds the 10,000 problems or
     *         {@code trainSize < 1}
     */
    public static Task addition(long seed, int trainSize, int valSize) {
        return bundled("addition", seed, trainSize, valSize, i -> {
            int a = i / (ADDITION_MAX_OPERAND + 1);
            int b = i % (ADDITION_MAX_OPERAND + 1);
            return Prompt.withAnswer(a + "+" + b + "=", Integer.toString(a + b));
        }, LengthAndDigitCost.of(3, LengthAndDigitCost.BANNED_DIGIT));
    }

    /**
     * The sort task: four digits then {@code >}, answered with the digits in ascending order.
     *
     * @throws IllegalArgumentException as {@link #addition(long, int, int)}
     */
    public static Task sort(long seed, int trainSize, int valSize) {
        return bundled("sort", seed, trainSize, valSize, i -> {
            char[] digits = String.format("%04d", i).toCharArray();
            String prompt = new String(digits) + ">";
            java.util.Arrays.sort(digits);
            return Prompt.withAnswer(prompt, new String(digits));
        }, LengthAndDigitCost.of(SORT_DIGITS, LengthAndDigitCost.BANNED_DIGIT));
    }

    /**
     * A custom task from a prompts JSONL file ({@code {"prompt": "...", "answer": "...", "meta": {...}}} per line,
     * answer and meta optional); {@code valSize} lines chosen by the seed are held out and up to {@code trainSize}
     * of the rest train. The tokenizer covers every character of the prompts and answers, sorted.
     *
     * @param cost the Safe-RLHF cost, or null for none
     * @throws IllegalArgumentException if the file cannot be read or parsed (naming path and line), or holds fewer
     *         than {@code valSize + 1} prompts
     */
    public static Task custom(Path promptsFile, RewardFunction reward, CostFunction cost, long seed, int trainSize,
            int valSize) {
        Objects.requireNonNull(reward, "reward");
        List<Prompt> prompts = PromptsFile.read(promptsFile);
        if (prompts.size() < valSize + 1) {
            throw new IllegalArgumentException("prompts file has too few prompts: path=" + promptsFile + ", prompts="
                    + prompts.size() + ", data.val_size=" + valSize + ", expected at least " + (valSize + 1));
        }
        int[] order = PromptSampler.permutation(prompts.size(), seed, 0);
        List<Prompt> heldOut = new ArrayList<>(valSize);
        List<Prompt> train = new ArrayList<>();
        for (int i = 0; i < order.length; i++) {
            if (i < valSize) {
                heldOut.add(prompts.get(order[i]));
            } else if (train.size() < trainSize) {
                train.add(prompts.get(order[i]));
            }
        }
        List<String> texts = new ArrayList<>();
        for (Prompt prompt : prompts) {
            texts.add(prompt.text());
            texts.add(prompt.answer());
        }
        return new Task("custom", CharTokenizer.forTexts(texts), train, heldOut, reward, cost);
    }

    private static Task bundled(String name, long seed, int trainSize, int valSize,
            java.util.function.IntFunction<Prompt> problem, CostFunction cost) {
        if (trainSize < 1 || valSize < 0 || (long) trainSize + valSize > BUNDLED_PROBLEMS) {
            throw new IllegalArgumentException(name + " task has " + BUNDLED_PROBLEMS + " distinct prompts: "
                    + "data.train_size=" + trainSize + ", data.val_size=" + valSize
                    + ", expected train_size >= 1 and train_size + val_size <= " + BUNDLED_PROBLEMS);
        }
        int[] order = new int[BUNDLED_PROBLEMS];
        for (int i = 0; i < order.length; i++) {
            order[i] = i;
        }
        PromptSampler.shuffle(order, new Random(seed));
        List<Prompt> heldOut = new ArrayList<>(valSize);
        List<Prompt> train = new ArrayList<>(trainSize);
        for (int i = 0; i < valSize + trainSize; i++) {
            (i < valSize ? heldOut : train).add(problem.apply(order[i]));
        }
        return new Task(name, CharTokenizer.bundled(), train, heldOut, new DigitAnswerReward(), cost);
    }

    /**
     * Checks that every prompt (with BOS) fits {@code maxPromptLength} tokens and every answer (with EOS) fits
     * {@code responseLength} tokens, and that every character is in the vocabulary.
     *
     * @throws IllegalArgumentException naming the first prompt that does not fit
     */
    public void requireFits(int maxPromptLength, int responseLength) {
        for (List<Prompt> prompts : List.of(train, heldOut)) {
            for (Prompt prompt : prompts) {
                int promptTokens = tokenizer.encodePrompt(prompt.text()).length;
                if (promptTokens > maxPromptLength) {
                    throw new IllegalArgumentException("prompt longer than data.max_prompt_length: prompt="
                            + prompt.text() + ", tokens=" + promptTokens + ", data.max_prompt_length="
                            + maxPromptLength);
                }
                int answerTokens = tokenizer.encode(prompt.answer()).length + 1;
                if (!prompt.answer().isEmpty() && answerTokens > responseLength) {
                    throw new IllegalArgumentException("answer longer than actor_rollout_ref.rollout.response_length: "
                            + "prompt=" + prompt.text() + ", answer=" + prompt.answer() + ", tokens=" + answerTokens
                            + " (EOS included), actor_rollout_ref.rollout.response_length=" + responseLength);
                }
            }
        }
    }

    /**
     * Scores one generated response: decodes it up to EOS, then applies the reward and (if any) the cost.
     *
     * @param responseIds generated ids; {@code length} of them from {@code offset}
     * @throws IllegalArgumentException if an id is outside the vocabulary or a function returns a non-finite value
     */
    public Scored score(Prompt prompt, int[] responseIds, int offset, int length) {
        CharTokenizer.DecodedResponse response = tokenizer.decodeResponse(responseIds, offset, length);
        double r = reward.score(prompt.text(), response.text(), prompt.meta());
        double c = cost == null ? 0.0 : cost.cost(prompt.text(), response.text(), prompt.meta());
        if (!Double.isFinite(r) || !Double.isFinite(c)) {
            throw new IllegalArgumentException("reward or cost is not finite: prompt=" + prompt.text() + ", response="
                    + response.text() + ", reward=" + r + ", cost=" + c);
        }
        return new Scored(response, r, c);
    }

    /**
     * {@code count} SFT demonstrations from the training prompts that have answers, in the order of a
     * {@link PromptSampler} with {@code seed} (each prompt once per pass).
     *
     * @throws IllegalArgumentException if no training prompt has an answer
     */
    public List<Demonstration> demonstrations(int count, long seed) {
        List<Prompt> answered = train.stream().filter(p -> !p.answer().isEmpty()).toList();
        if (answered.isEmpty()) {
            throw new IllegalArgumentException("task has no answers to build SFT demonstrations from: task=" + name);
        }
        PromptSampler sampler = PromptSampler.of(answered.size(), seed);
        List<Demonstration> demonstrations = new ArrayList<>(count);
        for (int index : sampler.next(count)) {
            Prompt prompt = answered.get(index);
            int[] promptIds = tokenizer.encodePrompt(prompt.text());
            int[] answerIds = tokenizer.encode(prompt.answer());
            int[] tokens = new int[promptIds.length + answerIds.length + 1];
            System.arraycopy(promptIds, 0, tokens, 0, promptIds.length);
            System.arraycopy(answerIds, 0, tokens, promptIds.length, answerIds.length);
            tokens[tokens.length - 1] = CharTokenizer.EOS_ID;
            demonstrations.add(new Demonstration(tokens, promptIds.length));
        }
        return demonstrations;
    }

    /** {@code addition}, {@code sort} or {@code custom}. */
    public String name() {
        return name;
    }

    /** The tokenizer. */
    public CharTokenizer tokenizer() {
        return tokenizer;
    }

    /** Training prompts. */
    public List<Prompt> trainPrompts() {
        return train;
    }

    /** Held-out prompts, disjoint from the training prompts. */
    public List<Prompt> heldOutPrompts() {
        return heldOut;
    }

    /** Whether the task has a Safe-RLHF cost (the bundled tasks do). */
    public boolean hasCost() {
        return cost != null;
    }

    /**
     * One scored response.
     *
     * @param response the decoded response
     * @param reward its reward
     * @param cost its cost, 0 when the task has none
     */
    public record Scored(CharTokenizer.DecodedResponse response, double reward, double cost) {
    }
}
