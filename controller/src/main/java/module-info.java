/**
 * The control plane: Aeron transport with SBE messages, worker groups and dispatch protocols, data by reference,
 * parallel controllers, heartbeats; resource pools and placement planning.
 */
module io.yatt.controller {
    requires transitive io.yatt.tensor;
    requires transitive io.yatt.collectives;
    requires transitive io.yatt.hybrid;
    requires io.aeron.client;
    requires io.aeron.driver;
    requires org.agrona;
    requires com.fasterxml.jackson.databind;

    exports io.yatt.controller;
    exports io.yatt.controller.placement;
}
