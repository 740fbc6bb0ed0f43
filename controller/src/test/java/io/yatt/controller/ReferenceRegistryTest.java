package io.yatt.controller;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.yatt.tensor.Allocator;
import io.yatt.tensor.DType;
import io.yatt.tensor.Device;
import io.yatt.tensor.Shape;
import io.yatt.tensor.Tensor;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

class ReferenceRegistryTest {
    private Allocator allocator;
    private ReferenceRegistry registry;

    @BeforeEach
    void open() {
        allocator = Allocator.root("refs-test");
        registry = ReferenceRegistry.create();
    }

    @AfterEach
    void close() {
        registry.close();
        allocator.close();
    }

    private Tensor tensor(long rows) {
        return Tensor.allocate(allocator, DType.F32, Shape.of(rows, 4), Device.host());
    }

    @Test
    void shouldFreeWhenTheLastConsumerHasIt() {
        Tensor logProbs = tensor(1024);
        TensorRef ref = registry.publish("actor.logProbs", 1, TensorRef.of(0, 7, logProbs), List.of(2, 3), logProbs);
        assertEquals(new TensorRef(0, 7, 0, DType.F32, Shape.of(1024, 4)), ref);
        assertEquals(16384, ref.byteSize());
        assertFalse(registry.consumed(ref, 3));
        assertEquals(16384, allocator.allocatedBytes());
        assertTrue(registry.consumed(ref, 2));
        assertEquals(0, allocator.allocatedBytes());
        assertEquals(0, registry.liveCount());
    }

    @Test
    void shouldCountRepeatedAndAddedConsumers() {
        Tensor values = tensor(8);
        TensorRef ref = registry.publish("critic.values", 1, TensorRef.of(1, 0, values), List.of(4, 4), values);
        registry.addConsumer(ref, 5);
        assertFalse(registry.consumed(ref, 4));
        assertFalse(registry.consumed(ref, 5));
        assertEquals(List.of(new ReferenceRegistry.LiveReference("critic.values", 1, ref, List.of(4))),
                registry.endStep(1));
        assertTrue(registry.consumed(ref, 4));
        assertTrue(values.isClosed());
    }

    @Test
    void shouldReportLiveReferencesByNameAtStepEnd() {
        Tensor a = tensor(2);
        Tensor b = tensor(2);
        Tensor later = tensor(2);
        TensorRef refA = registry.publish("rollout.responses", 3, TensorRef.of(0, 1, a), List.of(1, 2), a);
        TensorRef refB = registry.publish("actor.oldLogProbs", 3, TensorRef.of(0, 2, b), List.of(1), b);
        registry.publish("reward.scores", 4, TensorRef.of(0, 3, later), List.of(1), later);
        registry.consumed(refA, 1);
        List<ReferenceRegistry.LiveReference> left = registry.endStep(3);
        assertEquals(List.of("actor.oldLogProbs", "rollout.responses"),
                left.stream().map(ReferenceRegistry.LiveReference::name).toList());
        assertEquals("rollout.responses(step=3, owner=0, region=1, byteOffset=0, awaiting=[2])",
                left.get(1).toString());
        registry.consumed(refA, 2);
        registry.consumed(refB, 1);
        assertEquals(List.of(), registry.endStep(3));
        assertEquals(1, registry.endStep(4).size());
    }

    @Test
    void shouldFreeEverythingOnClose() {
        Tensor a = tensor(2);
        registry.publish("x", 0, TensorRef.of(0, 0, a), List.of(1), a);
        registry.close();
        assertTrue(a.isClosed());
        assertEquals(0, allocator.allocatedBytes());
        assertEquals("reference registry is closed", assertThrows(IllegalStateException.class,
                () -> registry.publish("y", 0, new TensorRef(0, 0, 0, DType.F32, Shape.of(1)), List.of(1), () -> { }))
                .getMessage());
        registry = ReferenceRegistry.create();
    }

    @Test
    void shouldRejectBadPublishAndConsumption() {
        Tensor a = tensor(2);
        TensorRef ref = registry.publish("x", 0, TensorRef.of(0, 0, a), List.of(1), a);
        assertEquals("reference already live: name=y, liveName=x, ref=" + ref,
                assertThrows(IllegalArgumentException.class,
                        () -> registry.publish("y", 0, ref, List.of(1), () -> { })).getMessage());
        TensorRef other = new TensorRef(0, 1, 0, DType.F32, Shape.of(1));
        assertEquals("a reference needs at least one consumer: name=z",
                assertThrows(IllegalArgumentException.class,
                        () -> registry.publish("z", 0, other, List.of(), () -> { })).getMessage());
        assertEquals("consumer rank negative: name=z, rank=-1",
                assertThrows(IllegalArgumentException.class,
                        () -> registry.publish("z", 0, other, List.of(-1), () -> { })).getMessage());
        assertEquals("reference not awaited by rank: name=x, rank=2, awaiting=[1]",
                assertThrows(IllegalArgumentException.class, () -> registry.consumed(ref, 2)).getMessage());
        assertEquals("reference not live: ref=" + other,
                assertThrows(IllegalArgumentException.class, () -> registry.consumed(other, 1)).getMessage());
        registry.consumed(ref, 1);
        assertEquals("reference not live: ref=" + ref,
                assertThrows(IllegalArgumentException.class, () -> registry.consumed(ref, 1)).getMessage());
    }

    @Test
    void shouldReportFailedFreeButDropTheReference() {
        TensorRef ref = new TensorRef(0, 0, 0, DType.F32, Shape.of(1));
        registry.publish("broken", 2, ref, List.of(1), () -> {
            throw new IllegalStateException("region gone");
        });
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> registry.consumed(ref, 1));
        assertEquals("freeing a reference failed: name=broken, step=2", e.getMessage());
        assertEquals("region gone", e.getCause().getMessage());
        assertEquals(0, registry.liveCount());
    }

    @Test
    void shouldResolveReferenceInARegion() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment region = arena.allocate(64);
            TensorRef ref = new TensorRef(0, 0, 16, DType.F32, Shape.of(2, 3));
            Tensor writer = ref.resolve(region);
            writer.setDouble(2.5, 1, 2);
            assertEquals(2.5f, region.get(ValueLayout.JAVA_FLOAT, 16 + 5 * 4));
            writer.close();
            TensorRef outside = new TensorRef(0, 0, 48, DType.F32, Shape.of(2, 3));
            assertEquals("reference outside its region: byteOffset=48, byteSize=24, regionByteSize=64, ref="
                    + outside, assertThrows(IllegalArgumentException.class, () -> outside.resolve(region)).getMessage());
        }
    }

    @Test
    void shouldTravelInlineOnlyUpToTheLimit() {
        assertTrue(TensorRef.travelsInline(TensorRef.DEFAULT_INLINE_LIMIT_BYTES, TensorRef.DEFAULT_INLINE_LIMIT_BYTES));
        assertFalse(TensorRef.travelsInline(65537, TensorRef.DEFAULT_INLINE_LIMIT_BYTES));
        assertEquals(65536, TensorRef.DEFAULT_INLINE_LIMIT_BYTES);
    }

    @Test
    void shouldRejectInvalidReferenceFields() {
        assertEquals("tensor reference field negative: ownerRank=-1, regionId=0, byteOffset=0",
                assertThrows(IllegalArgumentException.class,
                        () -> new TensorRef(-1, 0, 0, DType.F32, Shape.of(1))).getMessage());
        assertEquals("tensor reference end overflows a long: byteOffset=9223372036854775807, dtype=F32, shape=[2]",
                assertThrows(IllegalArgumentException.class,
                        () -> new TensorRef(0, 0, Long.MAX_VALUE, DType.F32, Shape.of(2))).getMessage());
        try (Tensor t = tensor(4); Tensor strided = t.narrow(1, 0, 2); Tensor rows = t.narrow(0, 2, 2)) {
            assertEquals("a tensor reference needs a contiguous tensor: shape=[4, 2], dtype=F32",
                    assertThrows(IllegalArgumentException.class, () -> TensorRef.of(0, 0, strided)).getMessage());
            assertEquals(32, TensorRef.of(0, 0, rows).byteOffset());
        }
    }
}
