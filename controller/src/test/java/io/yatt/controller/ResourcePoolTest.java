package io.yatt.controller;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.yatt.tensor.Device;
import java.util.List;
import org.junit.jupiter.api.Test;

class ResourcePoolTest {

    @Test
    void shouldBindProcessLOfEachNodeToCudaL() {
        ResourcePool pool = ResourcePool.cuda("global", 2, 4);
        assertEquals(8, pool.worldSize());
        assertEquals(new ResourcePool.Slot(5, 1, 1, Device.cuda(1)), pool.slot(5));
        assertEquals(new ResourcePool.Slot(3, 0, 3, Device.cuda(3)), pool.slot(3));
        assertEquals(List.of(0, 1), pool.nodes());
        assertEquals(List.of(4, 4), pool.processesPerNode());
        assertEquals("ResourcePool[name=global, worldSize=8, processesPerNode=[4, 4]]", pool.toString());
    }

    @Test
    void shouldBindHostProcesses() {
        ResourcePool pool = ResourcePool.host("cpu", 1, 3);
        assertEquals(List.of(Device.host(), Device.host(), Device.host()),
                pool.slots().stream().map(ResourcePool.Slot::device).toList());
    }

    @Test
    void shouldAcceptExplicitDevicesIncludingSharedGpu() {
        ResourcePool pool = ResourcePool.of("local", new Device[][] {{Device.cuda(0), Device.cuda(0)}, {Device.host()}});
        assertEquals(List.of(2, 1), pool.processesPerNode());
        assertEquals(new ResourcePool.Slot(1, 0, 1, Device.cuda(0)), pool.slot(1));
        assertEquals(new ResourcePool.Slot(2, 1, 0, Device.host()), pool.slot(2));
    }

    @Test
    void shouldSliceAndSplitKeepingProcessIdentity() {
        ResourcePool pool = ResourcePool.cuda("global", 2, 4);
        ResourcePool middle = pool.slice(2, 4);
        assertEquals("global[2:6]", middle.name());
        assertEquals(List.of(0, 1), middle.nodes());
        assertEquals(List.of(2, 2), middle.processesPerNode());
        assertEquals(new ResourcePool.Slot(4, 1, 0, Device.cuda(0)), middle.slot(2));
        List<ResourcePool> parts = pool.split(2, 6);
        assertEquals("global[0:2]", parts.get(0).name());
        assertEquals(6, parts.get(1).worldSize());
        assertEquals(7, parts.get(1).slot(5).id());
    }

    @Test
    void shouldTellColocatedFromSplitPlacement() {
        ResourcePool pool = ResourcePool.cuda("global", 1, 8);
        List<ResourcePool> parts = pool.split(4, 4);
        assertTrue(pool.sharesProcessesWith(pool), "actor and critic on one pool are colocated");
        assertTrue(parts.get(0).sharesProcessesWith(pool.slice(3, 2)));
        assertFalse(parts.get(0).sharesProcessesWith(parts.get(1)));
        assertFalse(pool.sharesProcessesWith(ResourcePool.cuda("global", 1, 8)), "another pool's processes differ");
    }

    @Test
    void shouldRejectBadCountsSlicesAndSplits() {
        assertEquals("resource pool counts must be positive: name=g, nodes=0, processesPerNode=8",
                assertThrows(IllegalArgumentException.class, () -> ResourcePool.cuda("g", 0, 8)).getMessage());
        assertEquals("invalid resource pool name: name=, expected a non-empty name",
                assertThrows(IllegalArgumentException.class, () -> ResourcePool.host("", 1, 1)).getMessage());
        assertEquals("resource pool node has no process: name=g, node=1",
                assertThrows(IllegalArgumentException.class,
                        () -> ResourcePool.of("g", new Device[][] {{Device.host()}, {}})).getMessage());
        assertEquals("resource pool needs at least one node: name=g, nodes=0",
                assertThrows(IllegalArgumentException.class, () -> ResourcePool.of("g", new Device[0][])).getMessage());
        ResourcePool pool = ResourcePool.host("g", 1, 4);
        assertEquals("pool slice out of range: start=3, count=2, worldSize=4, pool=g",
                assertThrows(IllegalArgumentException.class, () -> pool.slice(3, 2)).getMessage());
        assertEquals("pool split sizes do not add up to the world size: sizes=[1, 2], sum=3, worldSize=4, pool=g",
                assertThrows(IllegalArgumentException.class, () -> pool.split(1, 2)).getMessage());
        assertEquals("pool split sizes must be positive: sizes=[4, 0], pool=g",
                assertThrows(IllegalArgumentException.class, () -> pool.split(4, 0)).getMessage());
        assertEquals("pool rank out of range: rank=4, worldSize=4, pool=g",
                assertThrows(IndexOutOfBoundsException.class, () -> pool.slot(4)).getMessage());
    }
}
