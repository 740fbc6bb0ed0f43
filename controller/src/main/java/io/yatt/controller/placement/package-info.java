/**
 * Placement of RLHF models on a GPU cluster: device profiles, the algorithms' dataflows, an analytic cost model and
 * HybridFlow's auto-mapping planner (set partitions of the models into colocated sets, GPU allocations, parallel
 * layouts per model, the best and top k by predicted iteration time); and dynamic placement at run time
 * (colocated or split rollout, decided between iterations from measured stage times).
 */
package io.yatt.controller.placement;
