/** The {@code yatt} command line: machine report, layout planning and, later, training. */
package io.yatt.trainer.cli;
