/** The control plane's runtime: the Aeron transport and the controller's and workers' agents. */
package io.yatt.controller.internal.runtime;
