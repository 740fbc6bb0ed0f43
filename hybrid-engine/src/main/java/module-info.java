/** The 3D-HybridEngine: layouts, rank groups, reshard planning and execution between training and generation. */
module io.yatt.hybrid {
    requires transitive io.yatt.tensor;

    exports io.yatt.hybrid;
}
