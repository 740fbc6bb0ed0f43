/**
 * One JVM per rank on this host: the table of worker kinds {@code yatt worker --kind} serves, and the launcher that
 * starts those worker JVMs for a control plane, waits for them and leaves nothing of the job behind.
 */
package io.yatt.trainer.launch;
