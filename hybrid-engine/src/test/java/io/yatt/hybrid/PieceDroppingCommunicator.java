package io.yatt.hybrid;

import io.yatt.collectives.Communicator;
import io.yatt.tensor.Allocator;
import io.yatt.tensor.Tensor;
import java.util.ArrayList;
import java.util.List;

/**
 * A faulty backend for tests: a real communicator whose {@code allGatherv} silently leaves out the last piece of the
 * highest rank (that rank does not send it, and no rank receives it); everything else, its counters included, is the
 * real communicator's. Communicators split from it drop the same way.
 */
final class PieceDroppingCommunicator extends ForwardingCommunicator {

    PieceDroppingCommunicator(Communicator inner) {
        super(inner, PieceDroppingCommunicator::new);
    }

    @Override
    public void allGatherv(List<Tensor> send, List<List<Tensor>> recv) {
        try (Allocator scratch = Allocator.root("dropping-scratch")) {
            allGatherv(send, recv, scratch);
        }
    }

    @Override
    public void allGatherv(List<Tensor> send, List<List<Tensor>> recv, Allocator scratch) {
        int last = size() - 1;
        List<Tensor> mySend = rank() == last && !send.isEmpty() ? send.subList(0, send.size() - 1) : send;
        List<List<Tensor>> myRecv = new ArrayList<>(recv);
        List<Tensor> fromLast = recv.get(last);
        if (!fromLast.isEmpty()) {
            myRecv.set(last, fromLast.subList(0, fromLast.size() - 1));
        }
        inner.allGatherv(mySend, myRecv, scratch);
    }
}
