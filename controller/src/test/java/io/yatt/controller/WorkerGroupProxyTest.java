package io.yatt.controller;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.invoke.MethodHandles;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
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
    }

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

    interface WrongResult {
        int whoAnswers(String prefix);
    }

    interface WrongAsyncResult {
        CompletableFuture<Integer> whoAnswers(String prefix);
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
        plane = ControlPlane.launch(TestWorkers.context().threading(ControlPlane.Threading.INVOKER));
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
                () -> group.proxy(WrongResult.class).whoAnswers("p"));
        assertEquals("proxy result type mismatch: group=actor, method=whoAnswers, expected=int, "
                + "actual=java.lang.String", e.getMessage());
        ExecutionException async = assertThrows(ExecutionException.class,
                () -> group.proxy(WrongAsyncResult.class).whoAnswers("p").get(BOUND_S, TimeUnit.SECONDS));
        assertInstanceOf(ClassCastException.class, async.getCause());
        assertEquals("proxy result type mismatch: group=actor, method=whoAnswers, expected=java.lang.Integer, "
                + "actual=java.lang.String", async.getCause().getMessage());
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
                + ".WorkerGroupProxyTest$NotServed, methods=[generate, train], served=[addRank, record, whoAnswers]",
                e.getMessage());
    }
}
