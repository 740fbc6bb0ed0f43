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

    /**
     * Round trips to the servers on {@code ports} (one unary call to each, in parallel, waiting for all):
     * {@code warmup} untimed, then {@code iterations} recorded in nanoseconds.
     *
     * @throws IllegalStateException if a call fails or takes longer than {@code timeoutNs}
     */
    static Histogram ping(List<Integer> ports, int payloadBytes, int warmup, int iterations, long timeoutNs) {
        List<ManagedChannel> channels = new ArrayList<>();
        try {
            for (int port : ports) {
                channels.add(NettyChannelBuilder.forAddress(InetAddress.getLoopbackAddress().getHostAddress(), port)
                        .usePlaintext().directExecutor().build());
            }
            byte[] payload = new byte[payloadBytes];
            CallOptions options = CallOptions.DEFAULT.withWaitForReady();
            Histogram histogram = LatencyRow.newHistogram();
            List<Future<byte[]>> calls = new ArrayList<>(channels.size());
            for (int it = 0; it < warmup + iterations; it++) {
                long startNs = System.nanoTime();
                calls.clear();
                for (ManagedChannel channel : channels) {
                    calls.add(ClientCalls.futureUnaryCall(channel.newCall(ECHO, options), payload));
                }
                for (Future<byte[]> call : calls) {
                    byte[] echo = call.get(timeoutNs, TimeUnit.NANOSECONDS);
                    if (echo.length != payloadBytes) {
                        throw new IllegalStateException("gRPC echo changed size: sent=" + payloadBytes + ", got="
                                + echo.length);
                    }
                }
                long elapsedNs = System.nanoTime() - startNs;
                if (it >= warmup) {
                    histogram.recordValue(elapsedNs);
                }
            }
            return histogram;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted during gRPC ping: ports=" + ports, e);
        } catch (ExecutionException | TimeoutException e) {
            throw new IllegalStateException("gRPC echo failed: ports=" + ports + ", error=" + e, e);
        } finally {
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
}
