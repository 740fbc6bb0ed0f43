package io.yatt.trainer.task;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.List;
import org.junit.jupiter.api.Test;

class CharTokenizerTest {

    private final CharTokenizer tokenizer = CharTokenizer.bundled();

    @Test
    void shouldKeepTheDocumentedBundledIds() {
        assertEquals(16, tokenizer.vocabSize());
        assertEquals(3, tokenizer.id('0'));
        assertEquals(12, tokenizer.id('9'));
        assertEquals(13, tokenizer.id('+'));
        assertEquals(14, tokenizer.id('='));
        assertEquals(15, tokenizer.id('>'));
        assertArrayEquals(new int[] {1, 4, 5, 13, 10, 14}, tokenizer.encodePrompt("12+7="));
    }

    @Test
    void shouldDecodeAResponseUpToTheFirstEos() {
        assertEquals(new CharTokenizer.DecodedResponse("19", true, 3),
                tokenizer.decodeResponse(new int[] {4, 12, 2, 5, 0}));
        assertEquals(new CharTokenizer.DecodedResponse("190", false, 3),
                tokenizer.decodeResponse(new int[] {4, 12, 3}));
        assertEquals(new CharTokenizer.DecodedResponse("9", true, 2),
                tokenizer.decodeResponse(new int[] {7, 12, 2, 9}, 1, 3));
        assertEquals(new CharTokenizer.DecodedResponse("1" + CharTokenizer.INVALID_CHAR, true, 3),
                tokenizer.decodeResponse(new int[] {4, 0, 2}));
    }

    @Test
    void shouldRejectCharactersAndIdsOutsideTheVocabulary() {
        assertEquals("character not in vocabulary: char='x' (U+0078), vocabulary=0123456789+=>",
                assertThrows(IllegalArgumentException.class, () -> tokenizer.encode("1x")).getMessage());
        assertEquals("token id out of range: token=16, vocab=16", assertThrows(IllegalArgumentException.class,
                () -> tokenizer.decodeResponse(new int[] {16})).getMessage());
        assertEquals("tokenizer character repeated: char='a' (U+0061), chars=aba",
                assertThrows(IllegalArgumentException.class, () -> CharTokenizer.of("aba")).getMessage());
        assertEquals("tokenizer character not allowed: char='?' (U+000A)",
                assertThrows(IllegalArgumentException.class, () -> CharTokenizer.of("a\n")).getMessage());
    }

    @Test
    void shouldBuildACustomVocabularySortedWhateverTheTextOrder() {
        CharTokenizer custom = CharTokenizer.forTexts(List.of("cab", "b a"));

        assertEquals(" abc", custom.chars());
        assertEquals(7, custom.vocabSize());
        assertArrayEquals(new int[] {1, 6, 4, 5}, custom.encodePrompt("cab"));
    }
}
