package io.yatt.tensor;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class DeviceTest {

    @Test
    void shouldDescribeHost() {
        Device host = Device.host();
        assertTrue(host.isHost());
        assertEquals(-1, host.ordinal());
        assertEquals("host", host.toString());
        assertSame(host, Device.host());
    }

    @Test
    void shouldDescribeCudaDevice() {
        Device cuda = Device.cuda(3);
        assertFalse(cuda.isHost());
        assertEquals(3, cuda.ordinal());
        assertEquals("cuda:3", cuda.toString());
        assertEquals(Device.cuda(3), cuda);
    }

    @Test
    void shouldParseHostCpuAndCuda() {
        assertEquals(Device.host(), Device.parse("host"));
        assertEquals(Device.host(), Device.parse("cpu"));
        assertEquals(Device.cuda(0), Device.parse("cuda:0"));
        assertEquals(Device.cuda(12), Device.parse("cuda:12"));
    }

    @Test
    void shouldRejectMalformedDevice() {
        for (String value : new String[] {"gpu0", "cuda", "cuda:", "cuda:-1", "cuda:x", "", "cuda:1234567890"}) {
            IllegalArgumentException error = assertThrows(IllegalArgumentException.class, () -> Device.parse(value));
            assertEquals("invalid device: value=" + value + ", expected host, cpu or cuda:N", error.getMessage());
        }
    }

    @Test
    void shouldRejectNullDevice() {
        IllegalArgumentException error = assertThrows(IllegalArgumentException.class, () -> Device.parse(null));
        assertEquals("invalid device: value=null, expected host, cpu or cuda:N", error.getMessage());
    }

    @Test
    void shouldRejectNegativeOrdinal() {
        IllegalArgumentException error = assertThrows(IllegalArgumentException.class, () -> Device.cuda(-1));
        assertEquals("invalid device ordinal: ordinal=-1, expected >= 0", error.getMessage());
    }
}
