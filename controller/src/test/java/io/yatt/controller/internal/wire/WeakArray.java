package io.yatt.controller.internal.wire;

import java.lang.ref.ReferenceQueue;
import java.lang.ref.WeakReference;

/** A weak reference to an array a buffer held, to tell whether anything still holds it after full collections. */
final class WeakArray {

    private final ReferenceQueue<byte[]> queue = new ReferenceQueue<>();
    private final WeakReference<byte[]> array;

    WeakArray(byte[] array) {
        this.array = new WeakReference<>(array, queue);
    }

    /** The array, while something holds it. */
    byte[] get() {
        return array.get();
    }

    /** Whether the array was collected within up to 20 requested collections (nothing holds it any more). */
    boolean collected() throws InterruptedException {
        for (int i = 0; i < 20; i++) {
            System.gc();
            if (queue.remove(50) != null) {
                return true;
            }
        }
        return array.get() == null;
    }
}
