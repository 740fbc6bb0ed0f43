package io.yatt.bench.controller;

import io.grpc.CallOptions;
import io.grpc.ManagedChannel;
import io.grpc.MethodDescriptor;
import io.grpc.Server;
import io.grpc.ServerServiceDefinition;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.grpc.stub.ClientCalls;
import io.grpc.stub.ServerCalls;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.HdrHistogram.Histogram;

/**
 * The gRPC baseline: a unary echo service defined by hand (a {@link MethodDescriptor} with a {@code byte[]}
 * marshaller, no protoc), served and called over loopback TCP with grpc-netty-shaded, direct executors on both
 * sides.
 */
final class GrpcEcho {

    /** The echo method: the response is the request. */
    static final MethodDescriptor<byte[], byte[]> ECHO = MethodDescriptor.<byte[], byte[]>newBuilder()
            .setType(MethodDescriptor.MethodType.UNARY)
            .setFullMethodName(MethodDescriptor.generateFullMethodName("yatt.bench.Echo", "Echo"))
            .setRequestMarshaller(new Bytes())
            .setResponseMarshaller(new Bytes())
            .build();

    private GrpcEcho() {
    }

    private static final class Bytes implements MethodDescriptor.Marshaller<byte[]> {
        @Override
        public InputStream stream(byte[] value) {
            return new ByteArrayInputStream(value);
        }

        @Override
        public byte[] parse(InputStream stream) {
            try {
                return stream.readAllBytes();
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
    }

    /**
     * Serves the echo on 127.0.0.1:{@code port} (0 picks a free port; {@link Server#getPort()} tells which).
     *
     * @throws UncheckedIOException if the port cannot be bound
     */
    static Server serve(int port) {
        ServerServiceDefinition service = ServerServiceDefinition.builder("yatt.bench.Echo")
                .addMethod(ECHO, ServerCalls.asyncUnaryCall((request, response) -> {
                    response.onNext(request);
                    response.onCompleted();
                }))
                .build();
        try {
            return NettyServerBuilder.forAddress(new InetSocketAddress(InetAddress.getLoopbackAddress(), port))
                    .directExecutor().addService(service).build().start();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot serve gRPC echo: port=" + port, e);
        }
    }

    /** A client of the echo servers on some ports: one channel each, kept open between blocks of round trips. */
    static final class Client implements AutoCloseable {
        private final List<ManagedChannel> channels = new ArrayList<>();
        private final List<Integer> ports;
        private final byte[] payload;
        private final long timeoutNs;
        private final List<Future<byte[]>> calls;

        private Client(List<Integer> ports, int payloadBytes, long timeoutNs) {
            this.ports = List.copyOf(ports);
            this.payload = new byte[payloadBytes];
            this.timeoutNs = timeoutNs;
            this.calls = new ArrayList<>(ports.size());
            for (int port : ports) {
                channels.add(NettyChannelBuilder.forAddress(InetAddress.getLoopbackAddress().getHostAddress(), port)
                        .usePlaintext().directExecutor().build());
            }
        }

        /**
         * {@code count} round trips (one unary call to each server, in parallel, waiting for all), recorded in
         * nanoseconds into {@code into} unless it is {@code null}.
         *
         * @throws IllegalStateException if a call fails or takes longer than the timeout
         */
        void run(int count, Histogram into) {
            CallOptions options = CallOptions.DEFAULT.withWaitForReady();
            try {
                for (int it = 0; it < count; it++) {
                    long startNs = System.nanoTime();
                    calls.clear();
                    for (ManagedChannel channel : channels) {
                        calls.add(ClientCalls.futureUnaryCall(channel.newCall(ECHO, options), payload));
                    }
                    for (Future<byte[]> call : calls) {
                        byte[] echo = call.get(timeoutNs, TimeUnit.NANOSECONDS);
                        if (echo.length != payload.length) {
                            throw new IllegalStateException("gRPC echo changed size: sent=" + payload.length
                                    + ", got=" + echo.length);
                        }
                    }
                    long elapsedNs = System.nanoTime() - startNs;
                    if (into != null) {
                        into.recordValue(elapsedNs);
                    }
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException("interrupted during gRPC ping: ports=" + ports, e);
            } catch (ExecutionException | TimeoutException e) {
                throw new IllegalStateException("gRPC echo failed: ports=" + ports + ", error=" + e, e);
            }
        }

        @Override
        public void close() {
            for (ManagedChannel channel : channels) {
                channel.shutdownNow();
                try {
                    channel.awaitTermination(5, TimeUnit.SECONDS);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }
        }
    }

    /** A client of the echo servers on {@code ports}, sending {@code payloadBytes} per call. */
    static Client client(List<Integer> ports, int payloadBytes, long timeoutNs) {
        return new Client(ports, payloadBytes, timeoutNs);
    }
}
