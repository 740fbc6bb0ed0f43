/** The 3D-HybridEngine: layouts, rank groups, reshard planning and execution between training and generation. */
module io.yatt.hybrid {
    requires transitive io.yatt.tensor;
    requires transitive io.yatt.collectives;

    exports io.yatt.hybrid;
}
