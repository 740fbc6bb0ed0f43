package io.yatt.hybrid;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.Test;

class PlacementTest {

    @Test
    void shouldParseAndPrintShortForms() {
        assertEquals(new Placement.Shard(0), Placement.parse("S(0)"));
        assertEquals(new Placement.Shard(1), Placement.parse(" s(1) "));
        assertEquals(new Placement.Replicate(), Placement.parse("R"));
        assertEquals(new Placement.Partial(Placement.PartialOp.SUM), Placement.parse("P(sum)"));
        assertEquals(new Placement.Partial(Placement.PartialOp.MAX), Placement.parse("p(MAX)"));
        assertEquals("S(0)", Placement.shard(0).toString());
        assertEquals("R", Placement.replicate().toString());
        assertEquals("P(sum)", Placement.partial(Placement.PartialOp.SUM).toString());
        for (String s : new String[] {"S(3)", "R", "P(avg)", "P(min)", "P(prod)"}) {
            assertEquals(s, Placement.parse(s).shortForm());
        }
    }

    @Test
    void shouldRejectMalformedPlacements() {
        assertEquals("cannot parse placement: text=S(x), expected S(<dim>), R or P(<op>) with op one of sum, avg, max,"
                + " min, prod", assertThrows(IllegalArgumentException.class, () -> Placement.parse("S(x)")).getMessage());
        assertThrows(IllegalArgumentException.class, () -> Placement.parse("P(mean)"));
        assertThrows(IllegalArgumentException.class, () -> Placement.parse("Q"));
        assertEquals("shard dim must be non-negative: dim=-1",
                assertThrows(IllegalArgumentException.class, () -> Placement.parse("S(-1)")).getMessage());
    }
}
