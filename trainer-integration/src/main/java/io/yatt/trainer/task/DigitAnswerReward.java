package io.yatt.trainer.task;

import java.util.Map;

/**
 * The reward of the bundled tasks, whose answers are digit strings: {@value #EXACT} for the exact answer; for a
 * well-formed wrong answer (non-empty, digits only) of the answer's length, {@value #DIGIT_CREDIT} times the fraction
 * of positions that match; for a well-formed answer of another length, {@value #FORMAT_CREDIT}; otherwise 0. The
 * largest partial credit, {@code 0.5*(n-1)/n}, stays below the exact reward. Stateless and thread-safe.
 */
public final class DigitAnswerReward implements RewardFunction {

    /** Reward of the exact answer. */
    public static final double EXACT = 1.0;
    /** Scale of the per-position credit of a same-length digit answer. */
    public static final double DIGIT_CREDIT = 0.5;
    /** Reward of digits-only answers of the wrong length. */
    public static final double FORMAT_CREDIT = 0.1;

    /**
     * @throws IllegalArgumentException if {@code meta} has no string {@code "answer"}
     */
    @Override
    public double score(String prompt, String response, Map<String, Object> meta) {
        if (!(meta.get(Prompt.ANSWER_KEY) instanceof String answer)) {
            throw new IllegalArgumentException("digit reward needs a string answer in meta: prompt=" + prompt
                    + ", meta=" + meta);
        }
        if (response.equals(answer)) {
            return EXACT;
        }
        if (!isDigits(response)) {
            return 0.0;
        }
        if (response.length() != answer.length()) {
            return FORMAT_CREDIT;
        }
        int matching = 0;
        for (int i = 0; i < answer.length(); i++) {
            if (response.charAt(i) == answer.charAt(i)) {
                matching++;
            }
        }
        return DIGIT_CREDIT * matching / answer.length();
    }

    static boolean isDigits(String text) {
        if (text.isEmpty()) {
            return false;
        }
        for (int i = 0; i < text.length(); i++) {
            char c = text.charAt(i);
            if (c < '0' || c > '9') {
                return false;
            }
        }
        return true;
    }
}
