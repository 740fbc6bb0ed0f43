package io.yatt.trainer.task;

import java.util.Arrays;
import java.util.Collection;
import java.util.TreeSet;

/**
 * A character-level tokenizer: ids 0, 1, 2 are PAD, BOS and EOS, then one id per character in the order given. The
 * bundled tasks use {@link #bundled()}: {@code 0..9} are ids 3..12, {@code +} is 13, {@code =} is 14, {@code >} is 15
 * (vocabulary 16). These ids are stable: checkpoints depend on them. Immutable and thread-safe.
 */
public final class CharTokenizer {

    /** Padding, never sampled. */
    public static final int PAD_ID = 0;
    /** Begins every prompt. */
    public static final int BOS_ID = 1;
    /** Ends every response. */
    public static final int EOS_ID = 2;
    /** Ids below this are special tokens. */
    public static final int FIRST_CHAR_ID = 3;
    /** The characters of the bundled tasks, in id order from {@link #FIRST_CHAR_ID}. */
    public static final String BUNDLED_CHARS = "0123456789+=>";
    /** What a PAD or BOS inside a response decodes to, so that no reward parses it. */
    public static final char INVALID_CHAR = '\uFFFD';

    private static final CharTokenizer BUNDLED = of(BUNDLED_CHARS);

    private final String chars;
    private final int[] idByChar;

    private CharTokenizer(String chars) {
        this.chars = chars;
        int max = chars.chars().max().orElse(0);
        this.idByChar = new int[max + 1];
        Arrays.fill(idByChar, -1);
        for (int i = 0; i < chars.length(); i++) {
            idByChar[chars.charAt(i)] = FIRST_CHAR_ID + i;
        }
    }

    /** The tokenizer of the bundled tasks (vocabulary 16). */
    public static CharTokenizer bundled() {
        return BUNDLED;
    }

    /**
     * A tokenizer over {@code chars}, ids from {@link #FIRST_CHAR_ID} in that order.
     *
     * @throws IllegalArgumentException if a character repeats, is a control character or a surrogate, or the text is
     *         empty
     */
    public static CharTokenizer of(String chars) {
        if (chars.isEmpty()) {
            throw new IllegalArgumentException("tokenizer needs at least one character: chars=''");
        }
        for (int i = 0; i < chars.length(); i++) {
            char c = chars.charAt(i);
            if (Character.isISOControl(c) || Character.isSurrogate(c) || c == INVALID_CHAR) {
                throw new IllegalArgumentException("tokenizer character not allowed: char=" + describe(c));
            }
            if (chars.indexOf(c) != i) {
                throw new IllegalArgumentException("tokenizer character repeated: char=" + describe(c)
                        + ", chars=" + chars);
            }
        }
        return new CharTokenizer(chars);
    }

    /**
     * A tokenizer over the distinct characters of {@code texts}, sorted by code point (so the same texts give the
     * same ids in any order).
     *
     * @throws IllegalArgumentException as {@link #of(String)}
     */
    public static CharTokenizer forTexts(Collection<String> texts) {
        TreeSet<Character> set = new TreeSet<>();
        for (String text : texts) {
            for (int i = 0; i < text.length(); i++) {
                set.add(text.charAt(i));
            }
        }
        StringBuilder sb = new StringBuilder(set.size());
        set.forEach(sb::append);
        return of(sb.toString());
    }

    /** Tokens in the vocabulary: 3 special tokens plus the characters. */
    public int vocabSize() {
        return FIRST_CHAR_ID + chars.length();
    }

    /** The characters, in id order from {@link #FIRST_CHAR_ID}. */
    public String chars() {
        return chars;
    }

    /**
     * The id of one character.
     *
     * @throws IllegalArgumentException if the character is not in the vocabulary
     */
    public int id(char c) {
        if (c < idByChar.length && idByChar[c] >= 0) {
            return idByChar[c];
        }
        throw new IllegalArgumentException("character not in vocabulary: char=" + describe(c) + ", vocabulary="
                + chars);
    }

    /**
     * The ids of {@code text}, one per character, no special tokens.
     *
     * @throws IllegalArgumentException if a character is not in the vocabulary
     */
    public int[] encode(String text) {
        int[] ids = new int[text.length()];
        for (int i = 0; i < ids.length; i++) {
            ids[i] = id(text.charAt(i));
        }
        return ids;
    }

    /**
     * BOS followed by the ids of the prompt.
     *
     * @throws IllegalArgumentException if a character is not in the vocabulary
     */
    public int[] encodePrompt(String prompt) {
        int[] ids = new int[prompt.length() + 1];
        ids[0] = BOS_ID;
        System.arraycopy(encode(prompt), 0, ids, 1, prompt.length());
        return ids;
    }

    /**
     * Decodes a response: characters up to the first EOS (or to the end when there is none); a PAD or BOS before that
     * decodes to {@link #INVALID_CHAR}.
     *
     * @throws IllegalArgumentException if an id is outside the vocabulary
     */
    public DecodedResponse decodeResponse(int[] ids, int offset, int length) {
        StringBuilder sb = new StringBuilder(length);
        for (int i = offset; i < offset + length; i++) {
            int id = ids[i];
            if (id < 0 || id >= vocabSize()) {
                throw new IllegalArgumentException("token id out of range: token=" + id + ", vocab=" + vocabSize());
            }
            if (id == EOS_ID) {
                return new DecodedResponse(sb.toString(), true, i - offset + 1);
            }
            sb.append(id < FIRST_CHAR_ID ? INVALID_CHAR : chars.charAt(id - FIRST_CHAR_ID));
        }
        return new DecodedResponse(sb.toString(), false, length);
    }

    /** The response decoded from all of {@code ids}, see {@link #decodeResponse(int[], int, int)}. */
    public DecodedResponse decodeResponse(int[] ids) {
        return decodeResponse(ids, 0, ids.length);
    }

    private static String describe(char c) {
        return String.format("'%s' (U+%04X)", Character.isISOControl(c) ? "?" : String.valueOf(c), (int) c);
    }

    /**
     * A decoded response.
     *
     * @param text characters before the first EOS
     * @param terminated whether an EOS was found
     * @param tokenCount tokens up to and including the EOS, or all tokens when there is none
     */
    public record DecodedResponse(String text, boolean terminated, int tokenCount) {
    }
}
