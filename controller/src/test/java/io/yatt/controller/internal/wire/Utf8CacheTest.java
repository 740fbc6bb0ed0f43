package io.yatt.controller.internal.wire;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertSame;

import java.nio.charset.StandardCharsets;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.Test;

class Utf8CacheTest {

    private static UnsafeBuffer framed(String s, int offset) {
        byte[] bytes = s.getBytes(StandardCharsets.UTF_8);
        UnsafeBuffer buffer = new UnsafeBuffer(new byte[offset + bytes.length + 3]);
        buffer.putBytes(offset, bytes);
        return buffer;
    }

    @Test
    void shouldDecodeTheSameStringObjectForEqualBytes() {
        Utf8Cache cache = new Utf8Cache();
        String first = cache.decode(framed("généré", 5), 5, "généré".getBytes(StandardCharsets.UTF_8).length);
        String second = cache.decode(framed("généré", 11), 11, "généré".getBytes(StandardCharsets.UTF_8).length);

        assertEquals("généré", first);
        assertSame(first, second);
    }

    @Test
    void shouldTellApartStringsOfTheSameLength() {
        Utf8Cache cache = new Utf8Cache();
        assertEquals("echo", cache.decode(framed("echo", 0), 0, 4));
        assertEquals("ecHo", cache.decode(framed("ecHo", 0), 0, 4));
        assertEquals("echo", cache.decode(framed("echo", 2), 2, 4));
        assertEquals("ech", cache.decode(framed("echo", 0), 0, 3));
        assertEquals("", cache.decode(framed("echo", 0), 0, 0));
    }

    @Test
    void shouldDecodeCorrectlyAfterTheTableWrapsAround() {
        Utf8Cache cache = new Utf8Cache();
        for (int round = 0; round < 3; round++) {
            for (int i = 0; i < Utf8Cache.ENTRIES * 2; i++) {
                String s = "method" + i;
                assertEquals(s, cache.decode(framed(s, 1), 1, s.length()));
            }
        }
    }

    @Test
    void shouldNotCacheLongStrings() {
        Utf8Cache cache = new Utf8Cache();
        String longName = "x".repeat(Utf8Cache.MAX_CACHED_BYTES + 1);
        String first = cache.decode(framed(longName, 0), 0, longName.length());
        String second = cache.decode(framed(longName, 0), 0, longName.length());

        assertEquals(longName, first);
        assertEquals(longName, second);
        assertNotSame(first, second);
    }

    @Test
    void shouldEncodeToUtf8AndReuseTheBytes() {
        Utf8Cache cache = new Utf8Cache();
        byte[] first = cache.encode("ONE_TO_ALL");
        byte[] byEqualValue = cache.encode(new String("ONE_TO_ALL".toCharArray()));

        assertArrayEquals("ONE_TO_ALL".getBytes(StandardCharsets.UTF_8), first);
        assertSame(first, byEqualValue);
        assertArrayEquals("généré".getBytes(StandardCharsets.UTF_8), cache.encode("généré"));
        assertEquals(0, cache.encode(null).length);
        assertEquals(0, cache.encode("").length);
        for (int i = 0; i < Utf8Cache.ENTRIES * 2; i++) {
            assertArrayEquals(("m" + i).getBytes(StandardCharsets.UTF_8), cache.encode("m" + i));
        }
    }
}
