package io.yatt.bench.controller;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.yatt.controller.TensorRef;
import io.yatt.tensor.DType;
import io.yatt.tensor.Shape;
import org.junit.jupiter.api.Test;

class RefWireTest {

    @Test
    void shouldRoundTripAReferenceInItsCountedSize() {
        TensorRef ref = new TensorRef(3, 17, 4096, DType.BF16, Shape.of(8, 1024, 2));
        byte[] wire = RefWire.encode(ref);
        assertEquals(22 + 3 * 8, wire.length);
        assertEquals(wire.length, RefWire.wireBytes(ref));
        assertEquals(ref, RefWire.decode(wire));
        assertEquals(3, wire[0]);
        assertEquals(17, wire[4]);
    }

    @Test
    void shouldRejectWireFormsThatDoNotFit() {
        assertEquals("tensor reference wire form must be byte[]: got=String",
            assertThrows(IllegalArgumentException.class, () -> RefWire.decode("x")).getMessage());
        assertEquals("tensor reference too short: bytes=5, min=22",
            assertThrows(IllegalArgumentException.class, () -> RefWire.decode(new byte[5])).getMessage());
        byte[] wire = RefWire.encode(new TensorRef(0, 1, 0, DType.U8, Shape.of(4)));
        byte[] cut = java.util.Arrays.copyOf(wire, wire.length - 1);
        assertEquals("tensor reference length does not match its rank: bytes=29, rank=1, expected=30",
            assertThrows(IllegalArgumentException.class, () -> RefWire.decode(cut)).getMessage());
        wire[20] = (byte) 200;
        assertEquals("unknown dtype ordinal in tensor reference: ordinal=200, expected=0.."
            + (DType.values().length - 1),
            assertThrows(IllegalArgumentException.class, () -> RefWire.decode(wire)).getMessage());
    }
}
