package io.yatt.controller.internal.runtime;

import static io.yatt.controller.RawOffers.await;
import static org.junit.jupiter.api.Assertions.assertEquals;

import io.aeron.Aeron;
import io.aeron.FragmentAssembler;
import io.aeron.Subscription;
import io.yatt.controller.ControlPlane;
import io.yatt.controller.ReferenceColumn;
import io.yatt.controller.internal.sbe.MessageHeaderDecoder;
import io.yatt.controller.internal.sbe.ReferenceRequestDecoder;
import io.yatt.controller.internal.wire.FrameTag;
import io.yatt.tensor.Allocator;
import io.yatt.tensor.DType;
import io.yatt.tensor.Device;
import io.yatt.tensor.Shape;
import io.yatt.tensor.Tensor;
import java.util.Map;
import org.agrona.concurrent.UnsafeBuffer;

/**
 * The fixture of the reference plane tests: on one control plane's media driver, an owner plane (worker
 * {@value #OWNER}) serving its store, a consumer plane (worker {@value #CONSUMER}), each with its own allocator, and a
 * rogue Aeron client. Closing it closes them all and checks that both allocators were emptied. Confined to the test's
 * thread.
 */
final class ReferencePlanes implements AutoCloseable {

    static final int OWNER = 7;
    static final int CONSUMER = 9;

    private ControlPlane plane;
    private Allocator ownerAllocator;
    private Allocator consumerAllocator;
    private ReferenceStore store;
    private ReferencePlane ownerPlane;
    private ReferencePlane consumerPlane;
    private Aeron rogue;

    private ReferencePlanes() {
    }

    /**
     * Starts the fixture: job {@code reference-<name>}, allocators {@code <name>-owner} and {@code <name>-consumer},
     * the owner's store under {@code ownerController}, both planes with {@code timeoutNs} and {@code secret} (null:
     * unsealed). What started is closed again if a later part fails.
     */
    static ReferencePlanes start(String name, long ownerController, long timeoutNs, byte[] secret) {
        ReferencePlanes p = new ReferencePlanes();
        try {
            p.plane = ControlPlane.launch(new ControlPlane.Context().jobName("reference-" + name));
            p.ownerAllocator = Allocator.root(name + "-owner");
            p.consumerAllocator = Allocator.root(name + "-consumer");
            p.store = ReferenceStore.open(ownerController, OWNER, p.ownerAllocator);
            p.ownerPlane = ReferencePlane.start(p.plane.driverDirectory(), OWNER, "127.0.0.1", timeoutNs, secret);
            p.ownerPlane.serve(p.store);
            p.consumerPlane = ReferencePlane.start(p.plane.driverDirectory(), CONSUMER, "127.0.0.1", timeoutNs,
                    secret);
            p.rogue = Aeron.connect(new Aeron.Context().aeronDirectoryName(p.plane.driverDirectory()));
            return p;
        } catch (RuntimeException | Error e) {
            try {
                p.close();
            } catch (RuntimeException | Error suppressed) {
                e.addSuppressed(suppressed);
            }
            throw e;
        }
    }

    Allocator consumerAllocator() {
        return consumerAllocator;
    }

    ReferenceStore store() {
        return store;
    }

    ReferencePlane ownerPlane() {
        return ownerPlane;
    }

    ReferencePlane consumerPlane() {
        return consumerPlane;
    }

    Aeron rogue() {
        return rogue;
    }

    /** Publishes a {@code rows} x {@code rowFloats} F32 tensor whose element (i, j) is {@code i * rowScale + j}. */
    ReferenceColumn publish(int rows, int rowFloats, int rowScale) {
        try (Tensor t = Tensor.allocate(ownerAllocator, DType.F32, Shape.of(rows, rowFloats), Device.host())) {
            for (int i = 0; i < rows; i++) {
                for (int j = 0; j < rowFloats; j++) {
                    t.setDouble(i * rowScale + j, i, j);
                }
            }
            return store.publish("logp", 1, t);
        }
    }

    /** The consumer's pull of {@code column} from the owner, as a controller {@code consumerController} claims it. */
    Tensor pull(long consumerController, ReferenceColumn column,
                Map<ReferenceColumn.Region, ReferenceStore.Claim> claims) {
        return ReferenceStore.pull(consumerController, column, claims, Map.of(OWNER, ownerPlane.endpoint()),
                () -> consumerPlane, consumerAllocator);
    }

    /**
     * The next request that arrives on {@code fetches}, opened by {@code opener} (null: unsealed).
     *
     * @throws AssertionError if the request does not verify under {@code opener}
     */
    static ReferenceRequestDecoder receiveRequest(Subscription fetches, FrameTag opener) {
        ReferenceRequestDecoder[] got = new ReferenceRequestDecoder[1];
        FragmentAssembler assembler = new FragmentAssembler((b, offset, length, header) -> {
            byte[] copy = new byte[length];
            b.getBytes(offset, copy);
            UnsafeBuffer frame = new UnsafeBuffer(copy);
            if (opener != null && opener.open(frame, 0, length) < 0) {
                throw new AssertionError("the consumer's request does not verify");
            }
            got[0] = new ReferenceRequestDecoder().wrapAndApplyHeader(frame, 0, new MessageHeaderDecoder());
        });
        await(() -> fetches.poll(assembler, 1) >= 0 && got[0] != null);
        return got[0];
    }

    /** {@code subscription}'s endpoint once its port is resolved. */
    static String resolved(Subscription subscription) {
        String[] endpoint = new String[1];
        await(() -> (endpoint[0] = subscription.tryResolveChannelEndpointPort()) != null);
        return endpoint[0];
    }

    @Override
    public void close() {
        for (AutoCloseable c : new AutoCloseable[] {rogue, consumerPlane, ownerPlane, store, plane}) {
            if (c != null) {
                try {
                    c.close();
                } catch (Exception e) {
                    throw new IllegalStateException(e);
                }
            }
        }
        for (Allocator allocator : new Allocator[] {ownerAllocator, consumerAllocator}) {
            if (allocator != null) {
                assertEquals(0, allocator.allocatedBytes());
                allocator.close();
            }
        }
    }
}
