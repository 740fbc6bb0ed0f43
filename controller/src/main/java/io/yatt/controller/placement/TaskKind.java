package io.yatt.controller.placement;

/** What a model does in one task of the dataflow; decides the task's cost formula. */
public enum TaskKind {
    /** Auto-regressive decoding of the responses: memory-bandwidth bound per decode step. */
    GENERATE,
    /** One forward pass over prompt and response: compute bound. */
    INFER,
    /** Forward, backward and optimizer step over prompt and response: compute bound. */
    TRAIN
}
