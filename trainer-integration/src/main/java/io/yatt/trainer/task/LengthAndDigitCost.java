package io.yatt.trainer.task;

import java.util.Map;

/**
 * The Safe-RLHF cost of the bundled tasks: 1 when the response is longer than {@code maxChars} characters (for
 * addition 3, the longest sum; for sorting 4) or contains the banned digit (the bundled tasks ban
 * {@value #BANNED_DIGIT}, so a correct answer such as {@code 17} still costs 1 and the policy must trade reward against
 * cost), else 0. Immutable and thread-safe.
 */
public final class LengthAndDigitCost implements CostFunction {

    /** The digit the bundled tasks' cost bans. */
    public static final char BANNED_DIGIT = '7';

    private final int maxChars;
    private final char bannedDigit;

    private LengthAndDigitCost(int maxChars, char bannedDigit) {
        this.maxChars = maxChars;
        this.bannedDigit = bannedDigit;
    }

    /**
     * A cost with these limits.
     *
     * @throws IllegalArgumentException if {@code maxChars < 1} or {@code bannedDigit} is not a digit
     */
    public static LengthAndDigitCost of(int maxChars, char bannedDigit) {
        if (maxChars < 1) {
            throw new IllegalArgumentException("cost length limit must be >= 1: maxChars=" + maxChars);
        }
        if (bannedDigit < '0' || bannedDigit > '9') {
            throw new IllegalArgumentException("banned character must be a digit: bannedDigit=" + bannedDigit);
        }
        return new LengthAndDigitCost(maxChars, bannedDigit);
    }

    @Override
    public double cost(String prompt, String response, Map<String, Object> meta) {
        return response.length() > maxChars || response.indexOf(bannedDigit) >= 0 ? 1.0 : 0.0;
    }

    /** The length limit in characters. */
    public int maxChars() {
        return maxChars;
    }
}
