package io.yatt.hybrid;

/** The rank groups of a {@link HybridLayout}; each is a partition of all ranks. */
public enum GroupKind {
    /** Training tensor parallel: vary tp, hold (dp, pp). */
    TP("tpGroups"),
    /** Training pipeline parallel: vary pp, hold (dp, tp). */
    PP("ppGroups"),
    /** Training data parallel: vary dp, hold (pp, tp). */
    DP("dpGroups"),
    /** Generation tensor parallel: vary genTp, hold (dp, pp, microTp). */
    GEN_TP("genTpGroups"),
    /** Generation pipeline parallel: vary genPp, hold (dp, tp, microPp). */
    GEN_PP("genPpGroups"),
    /** Micro-DP (size d_g): vary (microPp, microTp), hold (dp, genTp, genPp). */
    MICRO_DP("microDpGroups"),
    /** The part of a micro-DP group on one training stage: vary microTp, hold (dp, pp, genTp). */
    MICRO_TP("microTpGroups"),
    /** The part of a micro-DP group with one training TP rank: vary microPp, hold (dp, tp, genPp). */
    MICRO_PP("microPpGroups"),
    /** One model replica, the training TP x PP group that HybridFlow-V gathers over: vary (pp, tp), hold dp. */
    MODEL_PARALLEL("modelParallelGroups"),
    /** All ranks, the group DS-Chat gathers over. */
    WORLD("worldGroups");

    private final String jsonName;

    GroupKind(String jsonName) {
        this.jsonName = jsonName;
    }

    /** The field name used in JSON output, e.g. {@code microDpGroups}. */
    public String jsonName() {
        return jsonName;
    }
}
