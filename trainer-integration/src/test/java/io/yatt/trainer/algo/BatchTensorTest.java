package io.yatt.trainer.algo;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.yatt.tensor.Allocator;
import io.yatt.tensor.DType;
import io.yatt.tensor.Device;
import io.yatt.tensor.Shape;
import io.yatt.tensor.Tensor;
import org.junit.jupiter.api.Test;

class BatchTensorTest {

    @Test
    void shouldRoundTripThroughAHostTensorOfAnotherDtype() {
        try (Allocator alloc = Allocator.root("algo-test");
             Tensor t = Tensor.allocate(alloc, DType.F64, Shape.of(2, 3), Device.host())) {
            BatchTensor x = BatchTensor.of(new float[][] {{1, 2, 3}, {-0.5f, 0, 7}});
            x.copyTo(t);
            assertEquals(7.0, t.getDouble(1, 2), 0.0);
            assertEquals(x, BatchTensor.fromTensor(t));
            // A strided view (column 1 of each row) is read through its strides.
            BatchTensor column = BatchTensor.fromTensor(t.narrow(1, 1, 1));
            assertArrayEquals(new float[] {2, 0}, column.toArray());
        }
    }

    @Test
    void shouldRejectTensorsThatAreNotRankTwoAndMismatchedTargets() {
        try (Allocator alloc = Allocator.root("algo-test");
             Tensor t = Tensor.allocate(alloc, DType.F32, Shape.of(4), Device.host())) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> BatchTensor.fromTensor(t));
            assertEquals("tensor must be [batch, seq] with fewer than 2^31 elements: shape=[4]", e.getMessage());
            IllegalArgumentException m = assertThrows(IllegalArgumentException.class,
                    () -> BatchTensor.zeros(2, 2).copyTo(t));
            assertEquals("target shape does not match: shape=[4], expected=[2, 2]", m.getMessage());
        }
    }

    @Test
    void shouldCopyInputsAndOutputs() {
        float[][] rows = {{1, 2}};
        BatchTensor x = BatchTensor.of(rows);
        rows[0][0] = 9;
        x.toArray()[1] = 9;
        assertArrayEquals(new float[] {1, 2}, x.toArray());
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> BatchTensor.of(new float[][] {{1, 2}, {3}}));
        assertEquals("ragged rows: row=1, length=1, expected=2", e.getMessage());
        IllegalArgumentException len = assertThrows(IllegalArgumentException.class,
                () -> BatchTensor.of(2, 2, new float[3]));
        assertEquals("length does not match shape: length=3, batch=2, seq=2", len.getMessage());
    }
}
