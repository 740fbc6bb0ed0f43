package io.yatt.controller.internal.wire;

import java.lang.invoke.MethodType;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;
import java.util.Optional;

/** One decoded control-plane message: a value, detached from the receive buffer. */
public sealed interface Message {

    /** A worker's place in a named mesh. */
    record MeshRegistration(String meshName, int dpRank, int dpSize, boolean collect) {
    }

    /**
     * A worker method's parameter and return types as it declares them, each by its type name
     * ({@link Class#getTypeName}: {@code int}, {@code int[]}, {@code java.lang.String}, {@code java.util.List};
     * generics are erased), for example {@code (int[],java.lang.String)java.util.List}.
     */
    record MethodSignature(List<String> parameterTypes, String returnType) {

        /**
         * @throws IllegalArgumentException if a name is not a type name, or a parameter is {@code void}
         */
        public MethodSignature {
            parameterTypes = List.copyOf(parameterTypes);
            Objects.requireNonNull(returnType, "returnType");
            for (int i = 0; i < parameterTypes.size(); i++) {
                String name = parameterTypes.get(i);
                if (!isTypeName(name) || name.equals("void")) {
                    throw new IllegalArgumentException("not a parameter type name: index=" + i + ", name=" + name);
                }
            }
            if (!isTypeName(returnType)) {
                throw new IllegalArgumentException("not a return type name: name=" + returnType);
            }
        }

        /** The signature of a method of {@code type}. */
        public static MethodSignature of(MethodType type) {
            return new MethodSignature(type.parameterList().stream().map(Class::getTypeName).toList(),
                    type.returnType().getTypeName());
        }

        /**
         * The signature in its wire form: {@code parameterTypes} comma-separated (empty for none), {@code returnType}.
         *
         * @throws IllegalArgumentException as the constructor does
         */
        public static MethodSignature parse(String parameterTypes, String returnType) {
            return new MethodSignature(parameterTypes.isEmpty() ? List.of()
                    : Arrays.asList(parameterTypes.split(",", -1)), returnType);
        }

        /** The parameter types in their wire form: comma-separated, empty for none. */
        public String parameterTypesText() {
            return String.join(",", parameterTypes);
        }

        /** A dotted name of Java identifiers, then any number of {@code []}. */
        private static boolean isTypeName(String name) {
            int end = name.length();
            while (end >= 2 && name.startsWith("[]", end - 2)) {
                end -= 2;
            }
            boolean start = true;
            for (int i = 0; i < end; i++) {
                char c = name.charAt(i);
                if (c == '.') {
                    if (start) {
                        return false;
                    }
                    start = true;
                } else if (start ? Character.isJavaIdentifierStart(c) : Character.isJavaIdentifierPart(c)) {
                    start = false;
                } else {
                    return false;
                }
            }
            return !start;
        }

        @Override
        public String toString() {
            return "(" + parameterTypesText() + ")" + returnType;
        }
    }

    /**
     * A worker method, the dispatch mode it declared and its signature (empty from a worker that registered with a
     * version-3 schema or that sent none: then only the name is checked).
     */
    record MethodEntry(String name, String dispatchMode, Optional<MethodSignature> signature) {

        public MethodEntry {
            Objects.requireNonNull(signature, "signature");
        }

        /** An entry without a signature. */
        public MethodEntry(String name, String dispatchMode) {
            this(name, dispatchMode, Optional.empty());
        }
    }

    /** Worker to controller: who I am, where to reach me, what I run; {@code mac} is empty when unauthenticated. */
    record Register(int workerId, int rank, long pid, int replyStreamId, List<String> roles,
                    List<MeshRegistration> meshes, List<MethodEntry> methods, String host, String replyChannel,
                    byte[] mac) implements Message {
        public Register {
            roles = List.copyOf(roles);
            meshes = List.copyOf(meshes);
            methods = List.copyOf(methods);
            mac = mac.clone();
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof Register r && workerId == r.workerId && rank == r.rank && pid == r.pid
                    && replyStreamId == r.replyStreamId && roles.equals(r.roles) && meshes.equals(r.meshes)
                    && methods.equals(r.methods) && host.equals(r.host) && replyChannel.equals(r.replyChannel)
                    && Arrays.equals(mac, r.mac);
        }

        @Override
        public int hashCode() {
            return Objects.hash(workerId, rank, pid, replyChannel);
        }
    }

    /** Registration outcome. */
    enum AckStatus { ACCEPTED, CHALLENGE, REFUSED }

    /** Controller to worker: accepted, challenged with a nonce, or refused with a reason. */
    record RegisterAck(long controllerId, int workerId, AckStatus status, long heartbeatIntervalNs, byte[] nonce,
                       String reason) implements Message {
        public RegisterAck {
            nonce = nonce.clone();
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof RegisterAck a && controllerId == a.controllerId && workerId == a.workerId
                    && status == a.status && heartbeatIntervalNs == a.heartbeatIntervalNs
                    && Arrays.equals(nonce, a.nonce) && reason.equals(a.reason);
        }

        @Override
        public int hashCode() {
            return Objects.hash(controllerId, workerId, status);
        }
    }

    /** Worker to controller: alive; {@code inFlightCalls} is {@link #IN_FLIGHT_UNKNOWN} from version-1 senders. */
    record Heartbeat(int workerId, long timestampNs, int inFlightCalls) implements Message {
        /** In-flight count of a version-1 heartbeat, which does not carry it. */
        public static final int IN_FLIGHT_UNKNOWN = -1;
    }

    /**
     * Controller to worker: run {@code method} of role {@code group} with {@code args}, or, with {@code awaitInput},
     * queue it until an {@link InvokeInput} brings the arguments ({@code args} is then empty).
     */
    record Invoke(long correlationId, long controllerId, long step, String group, String method, String dispatchMode,
                  boolean awaitInput, List<Object> args) implements Message {
    }

    /** Controller to worker: the arguments of an invoke that awaits them, or {@code skip} (not called). */
    record InvokeInput(long correlationId, long controllerId, boolean skip, List<Object> args) implements Message {
    }

    /** Worker to controller: a call's value. */
    record Result(long correlationId, int workerId, int rank, Object value) implements Message {
    }

    /** Worker to controller: a call failed with an exception of {@code type}. */
    record Error(long correlationId, int workerId, int rank, String type, String message) implements Message {
    }

    /** Controller to worker: drop a call that has not started. */
    record Cancel(long correlationId, long controllerId) implements Message {
    }

    /** Controller to worker: fail every call in flight. */
    record Abort(long controllerId, String reason) implements Message {
    }

    /** Controller to worker: stop. */
    record Shutdown(long controllerId, String reason) implements Message {
    }

    /** Controller to controllers: reached {@code step}. */
    record StepBarrier(long controllerId, int controllerIndex, int controllerCount, long step) implements Message {
    }

    /**
     * Controller to controllers: alive at {@code timestampNs} (its own clock), or, with {@code leaving}, closing its
     * mesh (it is gone, not lost).
     */
    record PeerHeartbeat(long controllerId, int controllerIndex, int controllerCount, long timestampNs,
                         boolean leaving) implements Message {
    }

    /** How metrics are combined across controllers. */
    enum ReduceOp { SUM, MIN, MAX, MEAN }

    /** One named metric value. */
    record Metric(String name, double value) {
    }

    /** Controller to controllers: partial metrics of {@code step}. */
    record MetricReduction(long controllerId, int controllerIndex, int controllerCount, long step, ReduceOp op,
                           List<Metric> metrics) implements Message {
        public MetricReduction {
            metrics = List.copyOf(metrics);
        }
    }
}
