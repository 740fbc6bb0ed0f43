/** Bootstrap of a multi-process job: configuration from launcher environments and a small authenticated TCP store. */
package io.yatt.collectives.rendezvous;
