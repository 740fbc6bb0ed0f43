package io.yatt.hybrid;

import java.lang.foreign.MemorySegment;

/**
 * Rearranges a buffer in place so that given moves {@code (source, target, byteLength)} hold, using two scratch
 * units of heap memory and no second buffer: the moves are completed to a permutation of equal-size units (the
 * greatest common divisor of every offset and length), which is applied by following its cycles. Bytes not named
 * as a move source either stay where they are or fill the places the move sources vacate. Stateless.
 */
final class InPlacePermutation {

    private InPlacePermutation() {
    }

    /**
     * Applies the moves (or their inverse) to {@code buffer}; the targets must lie in {@code [0, targetBytes)}.
     *
     * @throws IllegalArgumentException if the buffer has too many units or an inverse is asked with leftovers
     */
    static long apply(MemorySegment buffer, long bufferBytes, long targetBytes, long[] moves, boolean inverse) {
        if (inverse && targetBytes != bufferBytes) {
            throw new IllegalArgumentException("inverse needs a full permutation: bufferBytes=" + bufferBytes
                    + ", targetBytes=" + targetBytes);
        }
        long unit = gcd(bufferBytes, targetBytes);
        for (long v : moves) {
            unit = gcd(unit, v);
        }
        if (unit == 0) {
            return 0;
        }
        long unitCount = bufferBytes / unit;
        if (unitCount > Integer.MAX_VALUE - 8) {
            throw new IllegalArgumentException("too many permutation units: bufferBytes=" + bufferBytes + ", unit="
                    + unit);
        }
        int n = (int) unitCount;
        int targetUnits = (int) (targetBytes / unit);
        int[] dest = new int[n];
        java.util.Arrays.fill(dest, -1);
        boolean identity = true;
        for (int i = 0; i < moves.length; i += 3) {
            int src = (int) (moves[i] / unit);
            int dst = (int) (moves[i + 1] / unit);
            int len = (int) (moves[i + 2] / unit);
            if (src != dst) {
                identity = false;
            }
            for (int k = 0; k < len; k++) {
                if (inverse) {
                    dest[dst + k] = src + k;
                } else {
                    dest[src + k] = dst + k;
                }
            }
        }
        if (identity && targetBytes == bufferBytes) {
            return 0;
        }
        // complete: unused units inside the target area go to vacated places outside it; the rest stay
        int vacated = targetUnits;
        for (int i = 0; i < targetUnits; i++) {
            if (dest[i] < 0) {
                while (vacated < n && dest[vacated] < 0) {
                    dest[vacated] = vacated;
                    vacated++;
                }
                dest[i] = vacated++;
            }
        }
        for (int j = targetUnits; j < n; j++) {
            if (dest[j] < 0) {
                dest[j] = j;
            }
        }
        MemorySegment carry = MemorySegment.ofArray(new byte[(int) unit]);
        MemorySegment spare = MemorySegment.ofArray(new byte[(int) unit]);
        long movedBytes = 0;
        for (int start = 0; start < n; start++) {
            int next = dest[start];
            if (next < 0 || next == start) {
                continue;
            }
            MemorySegment.copy(buffer, (long) start * unit, carry, 0, unit);
            int cur = start;
            while (true) {
                next = dest[cur];
                dest[cur] = -2;
                if (next == start) {
                    MemorySegment.copy(carry, 0, buffer, (long) start * unit, unit);
                    movedBytes += unit;
                    break;
                }
                MemorySegment.copy(buffer, (long) next * unit, spare, 0, unit);
                MemorySegment.copy(carry, 0, buffer, (long) next * unit, unit);
                movedBytes += unit;
                MemorySegment swap = carry;
                carry = spare;
                spare = swap;
                cur = next;
            }
        }
        return movedBytes;
    }

    private static long gcd(long a, long b) {
        while (b != 0) {
            long r = a % b;
            a = b;
            b = r;
        }
        return Math.abs(a);
    }
}
