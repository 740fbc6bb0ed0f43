package io.yatt.controller.internal.runtime;

import io.yatt.controller.ControlPlane;
import org.agrona.concurrent.IdleStrategy;

/** Agrona idle strategies for {@link ControlPlane.Idle}. */
final class Idles {

    private Idles() {
    }

    static IdleStrategy strategy(ControlPlane.Idle idle) {
        return idle.newStrategy();
    }
}
