package io.yatt.trainer.task;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.Map;
import org.junit.jupiter.api.Test;

class DigitAnswerRewardTest {

    private final DigitAnswerReward reward = new DigitAnswerReward();
    private final Map<String, Object> nineteen = Map.of("answer", "19");

    @Test
    void shouldGiveOneForTheExactAnswer() {
        assertEquals(1.0, reward.score("12+7=", "19", nineteen));
    }

    @Test
    void shouldGiveHalfTheMatchingPositionsForASameLengthDigitAnswer() {
        assertEquals(0.25, reward.score("12+7=", "18", nineteen));
        assertEquals(0.0, reward.score("12+7=", "81", nineteen));
        assertEquals(0.25, reward.score("3142>", "1243", Map.of("answer", "1234")));
        assertEquals(0.375, reward.score("3142>", "1235", Map.of("answer", "1234")));
    }

    @Test
    void shouldGiveFormatCreditForDigitsOfTheWrongLengthAndNothingForTheRest() {
        assertEquals(0.1, reward.score("12+7=", "190", nineteen));
        assertEquals(0.0, reward.score("12+7=", "1+", nineteen));
        assertEquals(0.0, reward.score("12+7=", "", nineteen));
    }

    @Test
    void shouldRejectMetaWithoutAnAnswer() {
        assertEquals("digit reward needs a string answer in meta: prompt=1+1=, meta={}", assertThrows(
                IllegalArgumentException.class, () -> reward.score("1+1=", "2", Map.of())).getMessage());
    }

    @Test
    void shouldCostOneForTooLongResponsesOrTheBannedDigit() {
        LengthAndDigitCost cost = LengthAndDigitCost.of(3, '7');

        assertEquals(0.0, cost.cost("12+7=", "19", nineteen));
        assertEquals(1.0, cost.cost("10+7=", "17", Map.of("answer", "17")));
        assertEquals(1.0, cost.cost("12+7=", "1900", nineteen));
        assertEquals(0.0, cost.cost("99+99=", "198", Map.of("answer", "198")));
        assertEquals("banned character must be a digit: bannedDigit=x",
                assertThrows(IllegalArgumentException.class, () -> LengthAndDigitCost.of(3, 'x')).getMessage());
    }
}
