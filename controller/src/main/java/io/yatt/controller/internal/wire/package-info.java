/** The control plane's wire: frame validation, SBE message decoding, payload values, proxies and adapters. */
package io.yatt.controller.internal.wire;
