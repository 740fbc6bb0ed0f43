/** The 3D-HybridEngine: layouts, rank groups, reshard planning and execution between training and generation. */
module io.yatt.hybrid {
    requires transitive io.yatt.tensor;
    requires transitive io.yatt.collectives;
    requires java.management; // the reshard benchmark's per-rank thread CPU time

    exports io.yatt.hybrid;
}
