package io.yatt.trainer.launch;

import io.yatt.collectives.Communicators;
import io.yatt.collectives.RendezvousConfig;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * What the controller of an external launch ({@code trainer.launch=external}) publishes to its {@code yatt worker}
 * processes through the rendezvous store, beside its endpoint: the port of the store it serves for the workers' shm
 * world (on the same host as the rendezvous store), the job id that names the world's shm files, the roles every
 * worker serves, a worker's wait for the verdict after a collective lost a peer, each worker rank's {@code --mesh}
 * arguments (relative to its controller), and each worker rank's controller (with C controllers, rendezvous ranks 0 to
 * C - 1; a worker registers with its controller as the next rank of that controller's group, in rank order). Encoded
 * as UTF-8 lines {@code key=value}.
 *
 * @param worldPort port of the world's store, on the rendezvous store's host
 * @param jobId the shm job id ({@code [A-Za-z0-9_.]+})
 * @param roles the roles every worker registers (colocated)
 * @param peerLossWaitMs a worker's wait for the controller's verdict after a collective lost a peer, milliseconds
 * @param meshArguments per worker rank, its {@code NAME=DP_RANK/DP_SIZE/COLLECT} registrations
 * @param controllerOf per worker rank, the index of the controller it registers with
 */
public record ExternalJob(int worldPort, String jobId, List<String> roles, long peerLossWaitMs,
                          List<List<String>> meshArguments, List<Integer> controllerOf) {

    /** The shm backend's switch for a store served by someone else (the collectives' {@code ShmLauncher}'s). */
    private static final String ENV_EXTERNAL_STORE = "YATT_EXTERNAL_STORE";

    /** Validates the values; copies the lists. */
    public ExternalJob {
        if (worldPort < 1 || worldPort > 65535) {
            throw new IllegalArgumentException("worldPort out of range: worldPort=" + worldPort + ", expected 1..65535");
        }
        if (!jobId.matches("[A-Za-z0-9_.]{1,64}")) {
            throw new IllegalArgumentException("invalid jobId: jobId=" + jobId + ", expected [A-Za-z0-9_.]{1,64}");
        }
        if (roles.isEmpty() || roles.stream().anyMatch(r -> !r.matches("[A-Za-z0-9_.-]+"))) {
            throw new IllegalArgumentException("invalid roles: roles=" + roles + ", expected names [A-Za-z0-9_.-]+");
        }
        roles = List.copyOf(roles);
        meshArguments = meshArguments.stream().map(List::copyOf).toList();
        controllerOf = List.copyOf(controllerOf);
        if (controllerOf.size() != meshArguments.size()) {
            throw new IllegalArgumentException("controllerOf does not cover the workers: controllerOf="
                    + controllerOf.size() + ", workers=" + meshArguments.size());
        }
        int controllers = controllerOf.stream().mapToInt(Integer::intValue).max().orElse(-1) + 1;
        for (int c = 0; c < controllers; c++) {
            if (!controllerOf.contains(c) || controllerOf.stream().anyMatch(x -> x < 0)) {
                throw new IllegalArgumentException("controllers must be 0 to C - 1, each with a worker: controllerOf="
                        + controllerOf);
            }
        }
    }

    /** A job of one controller: every worker registers with controller 0. */
    public ExternalJob(int worldPort, String jobId, List<String> roles, long peerLossWaitMs,
                       List<List<String>> meshArguments) {
        this(worldPort, jobId, roles, peerLossWaitMs, meshArguments,
                java.util.Collections.nCopies(meshArguments.size(), 0));
    }

    /** The controllers the workers register with. */
    public int controllers() {
        return controllerOf.stream().mapToInt(Integer::intValue).max().orElse(-1) + 1;
    }

    /**
     * Worker {@code workerRank}'s rank in its controller's groups: how many workers of lower rank register with the
     * same controller.
     *
     * @throws IllegalArgumentException if {@code workerRank} is out of range
     */
    public int groupRank(int workerRank) {
        if (workerRank < 0 || workerRank >= workers()) {
            throw new IllegalArgumentException("worker rank out of range: rank=" + workerRank + ", workers="
                    + workers());
        }
        int c = controllerOf.get(workerRank);
        int rank = 0;
        for (int r = 0; r < workerRank; r++) {
            rank += controllerOf.get(r) == c ? 1 : 0;
        }
        return rank;
    }

    /** The workers the job describes. */
    public int workers() {
        return meshArguments.size();
    }

    /**
     * The UTF-8 lines {@code worldPort=}, {@code jobId=}, {@code roles=A,B}, {@code peerLossWaitMs=}, {@code
     * workers=}, {@code mesh.R=A;B} and {@code controller.R=C}.
     */
    public byte[] encode() {
        StringBuilder b = new StringBuilder();
        b.append("worldPort=").append(worldPort).append('\n').append("jobId=").append(jobId).append('\n')
                .append("roles=").append(String.join(",", roles)).append('\n')
                .append("peerLossWaitMs=").append(peerLossWaitMs).append('\n')
                .append("workers=").append(meshArguments.size()).append('\n');
        for (int r = 0; r < meshArguments.size(); r++) {
            b.append("mesh.").append(r).append('=').append(String.join(";", meshArguments.get(r))).append('\n');
        }
        for (int r = 0; r < controllerOf.size(); r++) {
            b.append("controller.").append(r).append('=').append(controllerOf.get(r)).append('\n');
        }
        return b.toString().getBytes(StandardCharsets.UTF_8);
    }

    /**
     * Decodes {@link #encode()}'s bytes.
     *
     * @throws IllegalArgumentException if a line or key is missing or malformed, naming it
     */
    public static ExternalJob decode(byte[] bytes) {
        Map<String, String> values = new HashMap<>();
        for (String line : new String(bytes, StandardCharsets.UTF_8).split("\n")) {
            int eq = line.indexOf('=');
            if (eq <= 0) {
                throw new IllegalArgumentException("malformed external job line: line=" + line
                        + ", expected key=value (was the controller started with trainer.launch=external?)");
            }
            values.put(line.substring(0, eq), line.substring(eq + 1));
        }
        int workers = intValue(values, "workers");
        List<List<String>> meshes = new ArrayList<>();
        List<Integer> controllerOf = new ArrayList<>();
        for (int r = 0; r < workers; r++) {
            String m = value(values, "mesh." + r);
            meshes.add(m.isEmpty() ? List.of() : Arrays.asList(m.split(";")));
            controllerOf.add(intValue(values, "controller." + r));
        }
        String wait = value(values, "peerLossWaitMs");
        long waitMs;
        try {
            waitMs = Long.parseLong(wait);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("external job value not an integer: peerLossWaitMs=" + wait, e);
        }
        return new ExternalJob(intValue(values, "worldPort"), value(values, "jobId"),
                Arrays.asList(value(values, "roles").split(",")), waitMs, meshes, controllerOf);
    }

    private static String value(Map<String, String> values, String key) {
        String v = values.get(key);
        if (v == null) {
            throw new IllegalArgumentException("external job without " + key + ": keys=" + values.keySet().stream()
                    .sorted().toList());
        }
        return v;
    }

    private static int intValue(Map<String, String> values, String key) {
        String v = value(values, key);
        try {
            return Integer.parseInt(v);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("external job value not an integer: " + key + "=" + v, e);
        }
    }

    /**
     * The environment a worker builds its shm world from ({@code Communicators.fromEnvironment}): {@code env} with
     * the world's rank and size (worker rank {@code workerRank} of {@link #workers()}, all on one host), the world
     * store at {@code masterAddr}:{@link #worldPort()} (served by the controller: connect only), the job id and the
     * shm backend.
     *
     * @throws IllegalArgumentException if {@code workerRank} is out of range
     */
    public Map<String, String> worldEnvironment(Map<String, String> env, int workerRank, String masterAddr) {
        if (workerRank < 0 || workerRank >= workers()) {
            throw new IllegalArgumentException("worker rank out of range: rank=" + workerRank + ", workers="
                    + workers());
        }
        Map<String, String> out = new HashMap<>(env);
        out.put("RANK", Integer.toString(workerRank));
        out.put("WORLD_SIZE", Integer.toString(workers()));
        out.put("LOCAL_RANK", Integer.toString(workerRank));
        out.put("LOCAL_WORLD_SIZE", Integer.toString(workers()));
        out.put("MASTER_ADDR", masterAddr);
        out.put("MASTER_PORT", Integer.toString(worldPort));
        out.put(RendezvousConfig.ENV_JOB_ID, jobId);
        out.put(ENV_EXTERNAL_STORE, "1");
        out.put(Communicators.ENV_BACKEND, "shm");
        return out;
    }
}
