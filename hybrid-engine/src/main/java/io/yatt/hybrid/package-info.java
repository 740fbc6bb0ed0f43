/** Parallel layouts, rank-to-group mapping, placements, model specs and zero-redundancy resharding plans. */
package io.yatt.hybrid;
