package io.yatt.trainer.task;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.Chars;
import net.jqwik.api.constraints.IntRange;
import net.jqwik.api.constraints.StringLength;

class TaskPropertiesTest {

    @Property(tries = 300)
    void shouldDecodeWhatItEncodedUpToTheAppendedEos(
            @ForAll @Chars({'0', '1', '2', '3', '4', '5', '6', '7', '8', '9', '+', '=', '>'}) @StringLength(max = 20)
            String text) {
        CharTokenizer tokenizer = CharTokenizer.bundled();
        int[] ids = tokenizer.encode(text);
        int[] withEos = java.util.Arrays.copyOf(ids, ids.length + 2);
        withEos[ids.length] = CharTokenizer.EOS_ID;
        withEos[ids.length + 1] = CharTokenizer.PAD_ID;

        assertEquals(new CharTokenizer.DecodedResponse(text, true, ids.length + 1), tokenizer.decodeResponse(withEos));
    }

    @Property(tries = 200)
    void shouldResumeTheSamplerAnywhereAndDrawWhatAnUninterruptedOneDraws(
            @ForAll @IntRange(min = 1, max = 50) int size, @ForAll long seed,
            @ForAll @IntRange(min = 0, max = 200) int before, @ForAll @IntRange(min = 0, max = 200) int after) {
        PromptSampler uninterrupted = PromptSampler.of(size, seed);
        uninterrupted.next(before);
        int[] expected = uninterrupted.next(after);

        PromptSampler stopped = PromptSampler.of(size, seed);
        stopped.next(before);
        PromptSampler resumed = PromptSampler.restore(size, seed, stopped.state());

        assertArrayEquals(expected, resumed.next(after));
        assertEquals(uninterrupted.state(), resumed.state());
        assertEquals(new PromptSampler.State((before + after) / size, (before + after) % size), resumed.state());
    }
}
