/** Controllers, worker groups, dispatch modes and data batches: the control plane's public API. */
package io.yatt.controller;
