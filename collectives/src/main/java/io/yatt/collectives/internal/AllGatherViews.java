package io.yatt.collectives.internal;

import io.yatt.tensor.DType;
import io.yatt.tensor.Tensor;

import java.util.Arrays;
import java.util.List;
import java.util.Objects;

/**
 * Argument checks and helpers of {@code Communicator.allGatherv}, shared by the default implementation
 * and the backends that override it. Stateless.
 */
public final class AllGatherViews {

    private AllGatherViews() {
    }

    /**
     * Checks the arguments on this rank and returns the received element count per rank.
     *
     * @throws IllegalArgumentException for a list not of {@code size} entries, mixed dtypes, or an own entry that does
     *         not match {@code send} piece for piece
     */
    public static long[] validate(List<Tensor> send, List<List<Tensor>> recv, int rank, int size) {
        Objects.requireNonNull(send, "send");
        Objects.requireNonNull(recv, "recv");
        if (recv.size() != size) {
            throw new IllegalArgumentException("allGatherv needs one view list per rank: lists=" + recv.size()
                    + ", size=" + size);
        }
        List<Tensor> own = recv.get(rank);
        if (own.size() != send.size()) {
            throw new IllegalArgumentException("own receive views do not match send: sendPieces=" + send.size()
                    + ", ownPieces=" + own.size() + ", rank=" + rank);
        }
        DType dtype = null;
        long[] totals = new long[size];
        for (int q = 0; q < size; q++) {
            for (Tensor t : recv.get(q)) {
                dtype = checkDtype(dtype, t, "recv", q);
                totals[q] += t.numel();
            }
        }
        for (int k = 0; k < send.size(); k++) {
            Tensor s = send.get(k);
            dtype = checkDtype(dtype, s, "send", rank);
            if (!s.shape().equals(own.get(k).shape())) {
                throw new IllegalArgumentException("own receive view does not match send: piece=" + k + ", send="
                        + s.shape() + ", recv=" + own.get(k).shape() + ", rank=" + rank);
            }
        }
        return totals;
    }

    /**
     * Whether two tensors are the same view: same device, first element, shape and strides. Views of Java heap memory
     * have no address to compare and count as different (copying such a view onto itself is harmless).
     */
    public static boolean sameView(Tensor a, Tensor b) {
        return a.device().equals(b.device()) && a.shape().equals(b.shape()) && Arrays.equals(a.strides(), b.strides())
                && (a.numel() == 0 || nativeAddress(a) >= 0 && nativeAddress(a) == nativeAddress(b));
    }

    /** The first element's address, or -1 for a view of Java heap memory. */
    private static long nativeAddress(Tensor t) {
        try {
            return t.dataPointer().address();
        } catch (IllegalStateException heap) {
            return -1;
        }
    }

    /** The first tensor of the call (a send piece, else a receive view), for its dtype and device. */
    public static Tensor firstTensor(List<Tensor> send, List<List<Tensor>> recv) {
        if (!send.isEmpty()) {
            return send.getFirst();
        }
        for (List<Tensor> list : recv) {
            if (!list.isEmpty()) {
                return list.getFirst();
            }
        }
        throw new IllegalStateException("unreachable: allGatherv without tensors");
    }

    /** {@code piece.numel()} elements of the contiguous {@code buffer} from {@code offset}, in {@code piece}'s shape. */
    public static Tensor slice(Tensor buffer, long offset, Tensor piece) {
        return buffer.narrow(0, offset, piece.numel()).view(piece.shape());
    }

    private static DType checkDtype(DType dtype, Tensor t, String side, int rank) {
        Objects.requireNonNull(t, side + " view");
        if (dtype != null && t.dtype() != dtype) {
            throw new IllegalArgumentException("allGatherv views must share one dtype: " + side + "=" + t.dtype()
                    + ", expected=" + dtype + ", rank=" + rank);
        }
        return t.dtype();
    }
}
