package io.yatt.collectives;

import java.net.InetAddress;
import java.net.UnknownHostException;
import java.time.Duration;
import java.util.Map;
import java.util.Objects;

/**
 * Where a rank sits in its job and how it finds the others: rank, world size, the local (per-host) rank and
 * size, the TCP store at {@code masterAddr:masterPort}, the address the store binds, an optional shared secret and
 * the deadline for every rendezvous step.
 *
 * <p>Build one programmatically with {@link #of(int, int, String, int)} and the {@code with*} methods, or from a
 * launcher's environment with {@link #fromEnvironment(Map)} (torchrun, Slurm or Open MPI variables); this is the only
 * place that reads environment variables, and it reads them from the map it is given. Immutable and thread-safe.
 *
 * @param rank            this process's rank, {@code 0 <= rank < worldSize}
 * @param worldSize       number of ranks in the job
 * @param localRank       rank among the processes on this host
 * @param localWorldSize  number of processes on this host
 * @param masterAddr      host of the TCP store
 * @param masterPort      port of the TCP store ({@code 0} only for a store started with an ephemeral port)
 * @param bindAddress     address the store listens on (rank 0 or the launcher); loopback by default
 * @param secret          shared token every peer presents; required when {@code bindAddress} is not loopback, may be null otherwise
 * @param jobId           job name used in shm region names ({@code [A-Za-z0-9_.]+})
 * @param timeoutNs       deadline for every rendezvous step, nanoseconds
 * @param source          where the values came from
 */
public record RendezvousConfig(int rank, int worldSize, int localRank, int localWorldSize, String masterAddr,
                               int masterPort, String bindAddress, String secret, String jobId, long timeoutNs,
                               Source source) {

    /** Default store port, as torchrun. */
    public static final int DEFAULT_MASTER_PORT = 29500;
    /** Default store host. */
    public static final String DEFAULT_MASTER_ADDR = "127.0.0.1";
    /** Default deadline for a rendezvous step. */
    public static final long DEFAULT_TIMEOUT_NS = Duration.ofSeconds(60).toNanos();
    /** Environment variable holding the shared secret (any launcher). */
    public static final String ENV_SECRET = "YATT_RENDEZVOUS_SECRET";
    /** Environment variable holding the address the store binds (any launcher). */
    public static final String ENV_BIND = "YATT_RENDEZVOUS_BIND";
    /** Environment variable holding the rendezvous deadline in milliseconds (any launcher). */
    public static final String ENV_TIMEOUT_MS = "YATT_RENDEZVOUS_TIMEOUT_MS";
    /** Environment variable holding the job id (any launcher). */
    public static final String ENV_JOB_ID = "YATT_JOB_ID";

    /** Where a configuration came from. */
    public enum Source { PROGRAMMATIC, TORCHRUN, SLURM, OPEN_MPI }

    /** Validates every field once; see the record parameters for the rules. */
    public RendezvousConfig {
        if (worldSize < 1) {
            throw new IllegalArgumentException("worldSize must be positive: worldSize=" + worldSize);
        }
        if (rank < 0 || rank >= worldSize) {
            throw new IllegalArgumentException("rank out of range: rank=" + rank + ", worldSize=" + worldSize);
        }
        if (localWorldSize < 1 || localRank < 0 || localRank >= localWorldSize) {
            throw new IllegalArgumentException(
                "localRank out of range: localRank=" + localRank + ", localWorldSize=" + localWorldSize);
        }
        Objects.requireNonNull(masterAddr, "masterAddr");
        Objects.requireNonNull(bindAddress, "bindAddress");
        Objects.requireNonNull(jobId, "jobId");
        Objects.requireNonNull(source, "source");
        if (masterPort < 0 || masterPort > 65535) {
            throw new IllegalArgumentException("masterPort out of range: masterPort=" + masterPort + ", expected 0..65535");
        }
        if (timeoutNs <= 0) {
            throw new IllegalArgumentException("timeoutNs must be positive: timeoutNs=" + timeoutNs);
        }
        if (!jobId.matches("[A-Za-z0-9_.]{1,64}")) {
            throw new IllegalArgumentException("invalid jobId: jobId=" + jobId + ", expected [A-Za-z0-9_.]{1,64}");
        }
        if (secret != null && secret.isEmpty()) {
            throw new IllegalArgumentException("secret must not be empty: use null for no secret");
        }
        if (secret == null && !isLoopback(bindAddress)) {
            throw new IllegalArgumentException("rendezvous secret required: bindAddress=" + bindAddress
                + " is not loopback; set " + ENV_SECRET + " or withSecret(...)");
        }
    }

    /**
     * A programmatic configuration on one host: local rank = rank, local size = world size, loopback store, no
     * secret, job id {@code "job"}, default deadline.
     *
     * @throws IllegalArgumentException if a value is out of range
     */
    public static RendezvousConfig of(int rank, int worldSize, String masterAddr, int masterPort) {
        return new RendezvousConfig(rank, worldSize, rank, worldSize, masterAddr, masterPort, DEFAULT_MASTER_ADDR,
            null, "job", DEFAULT_TIMEOUT_NS, Source.PROGRAMMATIC);
    }

    /**
     * Reads a configuration from a launcher's environment: torchrun ({@code RANK}, {@code WORLD_SIZE},
     * {@code LOCAL_RANK}, {@code LOCAL_WORLD_SIZE}, {@code MASTER_ADDR}, {@code MASTER_PORT}), Slurm
     * ({@code SLURM_PROCID}, {@code SLURM_NTASKS}, {@code SLURM_LOCALID}, {@code SLURM_NTASKS_PER_NODE},
     * {@code SLURM_JOB_ID}, {@code SLURM_LAUNCH_NODE_IPADDR}) or Open MPI ({@code OMPI_COMM_WORLD_RANK},
     * {@code OMPI_COMM_WORLD_SIZE}, {@code OMPI_COMM_WORLD_LOCAL_RANK}, {@code OMPI_COMM_WORLD_LOCAL_SIZE}), in that
     * order of preference. {@code MASTER_ADDR}/{@code MASTER_PORT} apply to all three; {@value #ENV_SECRET},
     * {@value #ENV_BIND}, {@value #ENV_TIMEOUT_MS} and {@value #ENV_JOB_ID} refine any of them.
     *
     * @param env the environment, e.g. {@code System.getenv()} passed by the CLI
     * @throws IllegalArgumentException if no launcher variables are present or a value does not parse
     */
    public static RendezvousConfig fromEnvironment(Map<String, String> env) {
        Objects.requireNonNull(env, "env");
        int rank;
        int worldSize;
        int localRank;
        int localWorldSize;
        Source source;
        String defaultJob;
        String masterAddr = env.getOrDefault("MASTER_ADDR", DEFAULT_MASTER_ADDR);
        if (env.containsKey("RANK") && env.containsKey("WORLD_SIZE")) {
            source = Source.TORCHRUN;
            rank = intVar(env, "RANK");
            worldSize = intVar(env, "WORLD_SIZE");
            localRank = env.containsKey("LOCAL_RANK") ? intVar(env, "LOCAL_RANK") : rank;
            localWorldSize = env.containsKey("LOCAL_WORLD_SIZE") ? intVar(env, "LOCAL_WORLD_SIZE") : worldSize;
            defaultJob = env.getOrDefault("TORCHELASTIC_RUN_ID", "torchrun");
        } else if (env.containsKey("SLURM_PROCID") && env.containsKey("SLURM_NTASKS")) {
            source = Source.SLURM;
            rank = intVar(env, "SLURM_PROCID");
            worldSize = intVar(env, "SLURM_NTASKS");
            localRank = env.containsKey("SLURM_LOCALID") ? intVar(env, "SLURM_LOCALID") : rank;
            localWorldSize = env.containsKey("SLURM_NTASKS_PER_NODE")
                ? leadingInt(env, "SLURM_NTASKS_PER_NODE") : worldSize;
            if (!env.containsKey("MASTER_ADDR") && env.containsKey("SLURM_LAUNCH_NODE_IPADDR")) {
                masterAddr = env.get("SLURM_LAUNCH_NODE_IPADDR");
            }
            defaultJob = "slurm" + env.getOrDefault("SLURM_JOB_ID", "0") + "." + env.getOrDefault("SLURM_STEP_ID", "0");
        } else if (env.containsKey("OMPI_COMM_WORLD_RANK") && env.containsKey("OMPI_COMM_WORLD_SIZE")) {
            source = Source.OPEN_MPI;
            rank = intVar(env, "OMPI_COMM_WORLD_RANK");
            worldSize = intVar(env, "OMPI_COMM_WORLD_SIZE");
            localRank = env.containsKey("OMPI_COMM_WORLD_LOCAL_RANK") ? intVar(env, "OMPI_COMM_WORLD_LOCAL_RANK") : rank;
            localWorldSize = env.containsKey("OMPI_COMM_WORLD_LOCAL_SIZE")
                ? intVar(env, "OMPI_COMM_WORLD_LOCAL_SIZE") : worldSize;
            String jobid = env.getOrDefault("OMPI_MCA_ess_base_jobid", "0");
            defaultJob = "ompi" + jobid.replaceAll("[^A-Za-z0-9_.]", "_");
        } else {
            throw new IllegalArgumentException("no launcher environment: expected RANK and WORLD_SIZE (torchrun), "
                + "SLURM_PROCID and SLURM_NTASKS (Slurm) or OMPI_COMM_WORLD_RANK and OMPI_COMM_WORLD_SIZE (Open MPI)");
        }
        int masterPort = env.containsKey("MASTER_PORT") ? intVar(env, "MASTER_PORT") : DEFAULT_MASTER_PORT;
        String bind = env.getOrDefault(ENV_BIND, DEFAULT_MASTER_ADDR);
        String secret = env.get(ENV_SECRET);
        if (secret != null && secret.isEmpty()) {
            secret = null;
        }
        long timeoutNs = env.containsKey(ENV_TIMEOUT_MS)
            ? Duration.ofMillis(Long.parseLong(env.get(ENV_TIMEOUT_MS).trim())).toNanos() : DEFAULT_TIMEOUT_NS;
        String jobId = env.getOrDefault(ENV_JOB_ID, defaultJob);
        return new RendezvousConfig(rank, worldSize, localRank, localWorldSize, masterAddr, masterPort, bind, secret,
            jobId, timeoutNs, source);
    }

    /** A copy with another store address. */
    public RendezvousConfig withMaster(String addr, int port) {
        return new RendezvousConfig(rank, worldSize, localRank, localWorldSize, addr, port, bindAddress, secret, jobId,
            timeoutNs, source);
    }

    /** A copy whose store binds {@code address} (a non-loopback address requires a secret). */
    public RendezvousConfig withBindAddress(String address) {
        return new RendezvousConfig(rank, worldSize, localRank, localWorldSize, masterAddr, masterPort, address, secret,
            jobId, timeoutNs, source);
    }

    /** A copy with a shared secret (null for none). */
    public RendezvousConfig withSecret(String token) {
        return new RendezvousConfig(rank, worldSize, localRank, localWorldSize, masterAddr, masterPort, bindAddress,
            token, jobId, timeoutNs, source);
    }

    /** A copy with another job id. */
    public RendezvousConfig withJobId(String id) {
        return new RendezvousConfig(rank, worldSize, localRank, localWorldSize, masterAddr, masterPort, bindAddress,
            secret, id, timeoutNs, source);
    }

    /** A copy with another deadline. */
    public RendezvousConfig withTimeoutNs(long ns) {
        return new RendezvousConfig(rank, worldSize, localRank, localWorldSize, masterAddr, masterPort, bindAddress,
            secret, jobId, ns, source);
    }

    /** A copy with another local rank and local size. */
    public RendezvousConfig withLocal(int localRankValue, int localWorldSizeValue) {
        return new RendezvousConfig(rank, worldSize, localRankValue, localWorldSizeValue, masterAddr, masterPort,
            bindAddress, secret, jobId, timeoutNs, source);
    }

    /** {@code masterAddr:masterPort}, as used in error messages. */
    public String master() {
        return masterAddr + ":" + masterPort;
    }

    @Override
    public String toString() {
        return "RendezvousConfig[rank=" + rank + ", worldSize=" + worldSize + ", localRank=" + localRank
            + ", localWorldSize=" + localWorldSize + ", master=" + master() + ", bindAddress=" + bindAddress
            + ", secret=" + (secret == null ? "none" : "***") + ", jobId=" + jobId + ", timeoutNs=" + timeoutNs
            + ", source=" + source + "]";
    }

    /**
     * Whether {@code address} is {@code localhost} or a loopback IP literal (host names other than {@code localhost}
     * are not resolved and count as reachable from outside).
     */
    public static boolean isLoopback(String address) {
        if (address.equals("localhost")) {
            return true;
        }
        try {
            if (!address.matches("[0-9.:a-fA-F\\[\\]]+")) {
                return false; // a host name other than localhost: do not resolve, treat as reachable from outside
            }
            return InetAddress.getByName(address).isLoopbackAddress();
        } catch (UnknownHostException e) {
            return false;
        }
    }

    private static int intVar(Map<String, String> env, String name) {
        String value = env.get(name);
        try {
            return Integer.parseInt(value.trim());
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("environment variable is not an integer: " + name + "=" + value, e);
        }
    }

    private static int leadingInt(Map<String, String> env, String name) {
        String value = env.get(name).trim();
        int end = 0;
        while (end < value.length() && Character.isDigit(value.charAt(end))) {
            end++;
        }
        if (end == 0) {
            throw new IllegalArgumentException("environment variable is not an integer: " + name + "=" + value);
        }
        return Integer.parseInt(value.substring(0, end));
    }
}
