package io.yatt.controller;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.aeron.Aeron;
import io.aeron.ExclusivePublication;
import io.aeron.Subscription;
import io.yatt.controller.internal.wire.FrameEncoder;
import io.yatt.controller.internal.wire.Message;
import io.yatt.controller.internal.wire.PayloadCodec;
import io.yatt.controller.internal.wire.RegisterLayout;
import java.lang.invoke.MethodHandles;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/**
 * {@link WorkerGroup#proxy}: an interface whose methods call the group's worker methods by name, blocking or as
 * futures, checked against the workers' registrations when the proxy is made. Two workers as threads, on an embedded
 * plane; their methods declare the dispatch modes.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class WorkerGroupProxyTest {

    private static final long BOUND_S = 30;

    static final class Methods {
        final int rank;
        final List<String> recorded = Collections.synchronizedList(new ArrayList<>());

        Methods(int rank) {
            this.rank = rank;
        }

        @WorkerMethod(dispatch = "ONE_TO_ALL")
        int addRank(int value) {
            return value + rank;
        }

        @WorkerMethod(dispatch = "RANK_ZERO")
        String whoAnswers(String prefix) {
            return prefix + rank;
        }

        @WorkerMethod(dispatch = "ONE_TO_ALL")
        void record(String value) {
            recorded.add(value);
        }

        @WorkerMethod(dispatch = "RANK_ZERO")
        long widen(long value) {
            return value * 2;
        }

        /** Declares Object: what arrives is only known when it does. */
        @WorkerMethod(dispatch = "RANK_ZERO")
        Object anything(String prefix) {
            return prefix + rank;
        }

        @WorkerMethod(dispatch = "RANK_ZERO")
        int size(float[] values) {
            return values.length;
        }

        @WorkerMethod(dispatch = "ALL_TO_ALL")
        int scale(int factor) {
            return factor * 10 + rank;
        }

        @WorkerMethod(dispatch = "DP_COMPUTE_PROTO")
        DataBatch echo(DataBatch batch) {
            return batch;
        }

        @WorkerMethod(dispatch = "PASS_ALL")
        int custom(int value) {
            return value + rank;
        }
    }

    /** One worker's take: takes an int. */
    static final class IntTake {
        @WorkerMethod(dispatch = "ONE_TO_ALL")
        int take(int value) {
            return value;
        }
    }

    /** Another worker's take of the same name: takes a long. */
    static final class LongTake {
        @WorkerMethod(dispatch = "ONE_TO_ALL")
        int take(long value) {
            return (int) value;
        }
    }

    interface Taker {
        List<Integer> take(int value);
    }

    /** A custom mode: the same arguments to every worker, the list of results back. */
    private static final Dispatch PASS_ALL = new Dispatch() {
        @Override
        public String name() {
            return "PASS_ALL";
        }

        @Override
        public List<Object[]> dispatch(Object[] args, GroupTopology topology) {
            return Collections.nCopies(topology.size(), args);
        }

        @Override
        public Object collect(List<Object> results, GroupTopology topology) {
            return results;
        }
    };

    /** Blocking calls, typed after each method's dispatch mode (a list per rank, or rank zero's value). */
    interface Actor {
        List<Integer> addRank(int value);

        String whoAnswers(String prefix);

        void record(String value);

        @Override
        String toString();
    }

    /** The same methods as futures; an argument may be a future. */
    interface AsyncActor {
        CompletableFuture<List<Integer>> addRank(Object value);

        CompletableFuture<String> whoAnswers(String prefix);

        CompletableFuture<Void> record(String value);
    }

    /** Accepted when made (an Object may arrive as an Integer); the call finds a String. */
    interface WrongResult {
        int anything(String prefix);
    }

    interface WrongAsyncResult {
        CompletableFuture<Integer> anything(String prefix);
    }

    /** The conversions a call applies: int widens to long, futures of the parameter's type, lists per worker. */
    interface Compatible {
        long widen(int value);

        CompletableFuture<Long> anything(Object prefix);

        CharSequence whoAnswers(CompletableFuture<String> prefix);

        List<Integer> addRank(Integer value);

        Object size(Object values);

        Iterable<?> scale(List<Integer> factors);

        CompletableFuture<DataBatch> echo(Object batch);

        void record(CompletableFuture<?> value);
    }

    interface WrongParameter {
        int size(String values);
    }

    interface NarrowingParameter {
        List<Integer> addRank(long value);
    }

    interface WrongFutureParameter {
        List<Integer> addRank(CompletableFuture<String> value);
    }

    interface WrongArity {
        String whoAnswers(String prefix, String suffix);
    }

    interface CollectedAsOneValue {
        int addRank(int value);
    }

    interface WrongRankZeroResult {
        CompletableFuture<Integer> whoAnswers(String prefix);
    }

    interface NotAListPerWorker {
        List<Integer> scale(int factor);
    }

    interface WrongElementPerWorker {
        List<Integer> scale(List<String> factors);
    }

    interface NotABatch {
        DataBatch echo(String batch);
    }

    interface BatchAsList {
        List<Object> echo(DataBatch batch);
    }

    /** Custom modes are checked by name only. */
    interface CustomMode {
        String custom(String value);
    }

    interface Generic<T> {
        T whoAnswers(String prefix);
    }

    interface GenericMethod {
        <T> T whoAnswers(String prefix);
    }

    interface WithDefault {
        String whoAnswers(String prefix);

        default String greet() {
            return "hello";
        }
    }

    interface Overloaded {
        List<Integer> addRank(int value);

        List<Integer> addRank(long value);

        void record(String value);

        void record(String value, String more);

        String whoAnswers(String prefix);
    }

    interface NotServed {
        void generate();

        void train(int epochs);

        void record(String value);
    }

    interface PlainFuture {
        Future<String> whoAnswers(String prefix);
    }

    interface Base {
        String whoAnswers(String prefix);
    }

    interface OtherBase {
        String whoAnswers(String prefix);
    }

    interface Diamond extends Base, OtherBase {
        static String notAWorkerMethod() {
            return "static";
        }
    }

    private ControlPlane plane;
    private final List<Worker> workers = new ArrayList<>();
    private final List<Methods> methods = new ArrayList<>();
    private WorkerGroup group;

    @BeforeAll
    void start() {
        plane = ControlPlane.launch(TestWorkers.context().dispatch(PASS_ALL)
                .threading(ControlPlane.Threading.INVOKER));
        for (int rank = 0; rank < 2; rank++) {
            Methods m = new Methods(rank);
            methods.add(m);
            workers.add(Worker.start(new Worker.Context().workerId(300 + rank).rank(rank).roles(List.of("actor"))
                    .methods(WorkerMethods.annotated(m, MethodHandles.lookup())).controller(plane.endpoint())
                    .externalDriverDirectory(plane.driverDirectory())));
        }
        group = plane.group("actor", 2, TestWorkers.GROUP_TIMEOUT_NS);
    }

    @AfterAll
    void stop() {
        for (Worker w : workers) {
            w.close();
        }
        plane.close();
    }

    @BeforeEach
    void forgetRecorded() {
        for (Methods m : methods) {
            m.recorded.clear();
        }
    }

    @Test
    void shouldCallWorkerMethodsThroughBlockingProxy() {
        Actor actor = group.proxy(Actor.class);
        assertEquals(List.of(40, 41), actor.addRank(40));
        assertEquals("rank-0", actor.whoAnswers("rank-"));
        actor.record("seen");
        assertEquals(List.of("seen"), methods.get(0).recorded);
        assertEquals(List.of("seen"), methods.get(1).recorded);
    }

    @Test
    void shouldCallWorkerMethodsThroughAsyncProxyTakingFutures() throws Exception {
        AsyncActor actor = group.proxy(AsyncActor.class);
        CompletableFuture<Integer> input = new CompletableFuture<>();
        CompletableFuture<List<Integer>> later = actor.addRank(input);
        CompletableFuture<String> first = actor.whoAnswers("w");
        assertFalse(later.isDone());
        input.complete(7);
        assertEquals(List.of(7, 8), later.get(BOUND_S, TimeUnit.SECONDS));
        assertEquals("w0", first.get(BOUND_S, TimeUnit.SECONDS));
        // an earlier call's future as the next call's argument: the workers wait for it, not the caller
        CompletableFuture<String> prefix = actor.whoAnswers("p");
        CompletableFuture<List<Integer>> chained = actor.addRank(prefix.thenApply(String::length));
        assertEquals(List.of(2, 3), chained.get(BOUND_S, TimeUnit.SECONDS));
        assertEquals(null, actor.record("async").get(BOUND_S, TimeUnit.SECONDS));
        assertEquals(List.of("async"), methods.get(1).recorded);
    }

    @Test
    void shouldAnswerObjectMethodsLocally() {
        Actor actor = group.proxy(Actor.class);
        Actor other = group.proxy(Actor.class);
        assertEquals("WorkerGroup proxy: interface=io.yatt.controller.WorkerGroupProxyTest$Actor, group=actor",
                actor.toString());
        assertTrue(actor.equals(actor));
        assertFalse(actor.equals(other));
        assertEquals(System.identityHashCode(actor), actor.hashCode());
        assertNotEquals(actor.hashCode(), other.hashCode());
        assertEquals(new FrameStats(0, 0, 0), plane.stats());
    }

    @Test
    void shouldTreatOneSignatureFromTwoSuperinterfacesAsOneMethod() {
        assertEquals("x0", group.proxy(Diamond.class).whoAnswers("x"));
    }

    @Test
    void shouldNameMethodAndTypesWhenResultDoesNotFit() {
        ClassCastException e = assertThrows(ClassCastException.class,
                () -> group.proxy(WrongResult.class).anything("p"));
        assertEquals("proxy result type mismatch: group=actor, method=anything, expected=int, "
                + "actual=java.lang.String", e.getMessage());
        ExecutionException async = assertThrows(ExecutionException.class,
                () -> group.proxy(WrongAsyncResult.class).anything("p").get(BOUND_S, TimeUnit.SECONDS));
        assertInstanceOf(ClassCastException.class, async.getCause());
        assertEquals("proxy result type mismatch: group=actor, method=anything, expected=java.lang.Integer, "
                + "actual=java.lang.String", async.getCause().getMessage());
    }

    @Test
    void shouldAcceptTheConversionsACallApplies() throws Exception {
        Compatible compatible = group.proxy(Compatible.class);
        assertEquals(10L, compatible.widen(5));
        assertEquals(List.of(3, 4), compatible.addRank(3));
        assertEquals(List.of(70, 81), compatible.scale(List.of(7, 8)));
        assertEquals(2, compatible.size(new float[] {1f, 2f}));
        // an Object argument that the worker cannot take is refused by the call, as before
        WorkerCallException refused = assertThrows(WorkerCallException.class, () -> compatible.size("x"));
        assertEquals("argument type mismatch: method=size, index=0, expected=[F, actual=java.lang.String",
                refused.getMessage().substring(refused.getMessage().indexOf("argument type mismatch")));
        assertEquals("q0", compatible.whoAnswers(CompletableFuture.completedFuture("q")));
        compatible.record(CompletableFuture.completedFuture("any"));
        assertEquals(List.of("any"), methods.get(1).recorded);
        ExecutionException e = assertThrows(ExecutionException.class,
                () -> compatible.anything("q").get(BOUND_S, TimeUnit.SECONDS));
        assertEquals("proxy result type mismatch: group=actor, method=anything, expected=java.lang.Long, "
                + "actual=java.lang.String", e.getCause().getMessage());
    }

    @Test
    void shouldRejectParameterTypeTheWorkerDoesNotTake() {
        assertEquals("proxy parameter type mismatch: group=actor, interface=io.yatt.controller.WorkerGroupProxyTest"
                + "$WrongParameter, method=size, mode=RANK_ZERO, index=0, expected=float[], actual=java.lang.String",
                refusal(WrongParameter.class));
        assertEquals("proxy parameter type mismatch: group=actor, interface=io.yatt.controller.WorkerGroupProxyTest"
                + "$NarrowingParameter, method=addRank, mode=ONE_TO_ALL, index=0, expected=int, actual=long",
                refusal(NarrowingParameter.class));
        assertEquals("proxy parameter type mismatch: group=actor, interface=io.yatt.controller.WorkerGroupProxyTest"
                + "$WrongFutureParameter, method=addRank, mode=ONE_TO_ALL, index=0, expected=int, "
                + "actual=java.util.concurrent.CompletableFuture<java.lang.String>",
                refusal(WrongFutureParameter.class));
    }

    @Test
    void shouldRejectParameterCountOtherThanTheWorkers() {
        assertEquals("proxy parameter count mismatch: group=actor, interface=io.yatt.controller.WorkerGroupProxyTest"
                + "$WrongArity, method=whoAnswers, expected=1, actual=2", refusal(WrongArity.class));
    }

    @Test
    void shouldRejectReturnTypeOtherThanWhatTheModeCollects() {
        assertEquals("proxy return type mismatch: group=actor, interface=io.yatt.controller.WorkerGroupProxyTest"
                + "$CollectedAsOneValue, method=addRank, mode=ONE_TO_ALL, expected=java.util.List, actual=int",
                refusal(CollectedAsOneValue.class));
        assertEquals("proxy return type mismatch: group=actor, interface=io.yatt.controller.WorkerGroupProxyTest"
                + "$WrongRankZeroResult, method=whoAnswers, mode=RANK_ZERO, expected=java.lang.String, "
                + "actual=java.util.concurrent.CompletableFuture<java.lang.Integer>",
                refusal(WrongRankZeroResult.class));
        assertEquals("proxy return type mismatch: group=actor, interface=io.yatt.controller.WorkerGroupProxyTest"
                + "$BatchAsList, method=echo, mode=DP_COMPUTE_PROTO, expected=io.yatt.controller.DataBatch, "
                + "actual=java.util.List<java.lang.Object>", refusal(BatchAsList.class));
    }

    @Test
    void shouldRejectArgumentsTheModeCannotSplit() {
        assertEquals("proxy parameter type mismatch: group=actor, interface=io.yatt.controller.WorkerGroupProxyTest"
                + "$NotAListPerWorker, method=scale, mode=ALL_TO_ALL, index=0, "
                + "expected=java.util.List<java.lang.Integer>, actual=int", refusal(NotAListPerWorker.class));
        assertEquals("proxy parameter type mismatch: group=actor, interface=io.yatt.controller.WorkerGroupProxyTest"
                + "$WrongElementPerWorker, method=scale, mode=ALL_TO_ALL, index=0, "
                + "expected=java.util.List<java.lang.Integer>, actual=java.util.List<java.lang.String>",
                refusal(WrongElementPerWorker.class));
        assertEquals("proxy parameter type mismatch: group=actor, interface=io.yatt.controller.WorkerGroupProxyTest"
                + "$NotABatch, method=echo, mode=DP_COMPUTE_PROTO, index=0, expected=io.yatt.controller.DataBatch, "
                + "actual=java.lang.String", refusal(NotABatch.class));
    }

    @Test
    void shouldCheckOnlyNamesOfCustomModeMethods() {
        assertEquals("WorkerGroup proxy: interface=io.yatt.controller.WorkerGroupProxyTest$CustomMode, group=actor",
                group.proxy(CustomMode.class).toString());
    }

    @Test
    void shouldRejectMethodWhoseWorkersDisagreeOnItsSignature() {
        List<Worker> mixed = new ArrayList<>();
        try {
            Object[] targets = {new IntTake(), new LongTake()};
            for (int rank = 0; rank < 2; rank++) {
                mixed.add(Worker.start(new Worker.Context().workerId(310 + rank).rank(rank).roles(List.of("mixed"))
                        .methods(WorkerMethods.annotated(targets[rank], MethodHandles.lookup()))
                        .controller(plane.endpoint()).externalDriverDirectory(plane.driverDirectory())));
            }
            WorkerGroup disagreeing = plane.group("mixed", 2, TestWorkers.GROUP_TIMEOUT_NS);
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> disagreeing.proxy(Taker.class));
            assertEquals("workers disagree on a method signature: group=mixed, method=take, "
                    + "signatures=(int)int,(long)int, workerIds=310,311", e.getMessage());
        } finally {
            for (Worker w : mixed) {
                w.close();
            }
        }
    }

    @Test
    void shouldCheckOnlyNamesForWorkerThatRegisteredWithVersionThree() throws Exception {
        try (Aeron aeron = Aeron.connect(new Aeron.Context().aeronDirectoryName(plane.driverDirectory()));
             ExclusivePublication toController = aeron.addExclusivePublication(plane.endpoint(),
                     ControlPlane.CONTROL_STREAM_ID);
             Subscription replies = aeron.addSubscription("aeron:ipc", 79_000)) {
            Message.Register signed = new Message.Register(320, 0, 1L, 79_000, List.of("legacy"), List.of(),
                    List.of(new Message.MethodEntry("size", "RANK_ZERO", Optional.of(
                            new Message.MethodSignature(List.of("float[]"), "int")))), "h", "aeron:ipc", new byte[0]);
            FrameEncoder encoder = new FrameEncoder(PayloadCodec.builtIn());
            byte[] v4 = new byte[encoder.encode(signed)];
            encoder.buffer().getBytes(0, v4);
            byte[] v3 = RegisterLayout.versionThree(v4);
            RawOffers.offer(toController, new UnsafeBuffer(v3), v3.length);
            WorkerGroup legacy = plane.group("legacy", 1, TestWorkers.GROUP_TIMEOUT_NS);
            // the same registration as version 4 refuses this proxy (shouldRejectParameterTypeTheWorkerDoesNotTake)
            assertEquals("WorkerGroup proxy: interface=io.yatt.controller.WorkerGroupProxyTest$WrongParameter, "
                    + "group=legacy", legacy.proxy(WrongParameter.class).toString());
        }
    }

    private String refusal(Class<?> api) {
        return assertThrows(IllegalArgumentException.class, () -> group.proxy(api)).getMessage();
    }

    @Test
    void shouldRejectClassThatIsNotAnInterface() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> group.proxy(String.class));
        assertEquals("proxy type must be an interface: type=java.lang.String", e.getMessage());
    }

    @Test
    void shouldRejectGenericInterface() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> group.proxy(Generic.class));
        assertEquals("proxy interface must not be generic: interface=io.yatt.controller.WorkerGroupProxyTest$Generic"
                + ", typeParameters=[T]", e.getMessage());
    }

    @Test
    void shouldRejectGenericMethod() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> group.proxy(GenericMethod.class));
        assertEquals("proxy method must not be generic: interface=io.yatt.controller.WorkerGroupProxyTest"
                + "$GenericMethod, method=whoAnswers, typeParameters=[T]", e.getMessage());
    }

    @Test
    void shouldRejectDefaultMethod() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> group.proxy(WithDefault.class));
        assertEquals("proxy interface must not have default methods: interface=io.yatt.controller"
                + ".WorkerGroupProxyTest$WithDefault, method=greet", e.getMessage());
    }

    @Test
    void shouldRejectOverloadedNames() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> group.proxy(Overloaded.class));
        assertEquals("proxy interface overloads method names (a worker method is identified by its name): "
                + "interface=io.yatt.controller.WorkerGroupProxyTest$Overloaded, methods=[addRank, record]",
                e.getMessage());
    }

    @Test
    void shouldRejectFutureThatIsNotCompletableFuture() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> group.proxy(PlainFuture.class));
        assertEquals("proxy method returns a future that is not a CompletableFuture: interface=io.yatt.controller"
                + ".WorkerGroupProxyTest$PlainFuture, method=whoAnswers, returnType=java.util.concurrent.Future",
                e.getMessage());
    }

    @Test
    void shouldRejectMethodsTheWorkersDoNotServe() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> group.proxy(NotServed.class));
        assertEquals("proxy methods not served by the group: group=actor, interface=io.yatt.controller"
                + ".WorkerGroupProxyTest$NotServed, methods=[generate, train], served=[addRank, anything, custom, echo,"
                + " record, scale, size, whoAnswers, widen]",
                e.getMessage());
    }
}
