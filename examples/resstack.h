/*
 * resstack.h - a synthetic residual stack of any size, recorded through the
 * qprep tracer: the graph the benchmark (qprep bench, qprep gen) runs on.
 */
#ifndef QPREP_EXAMPLE_RESSTACK_H
#define QPREP_EXAMPLE_RESSTACK_H

#include <qprep/qprep.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Nodes a stack of `blocks` blocks has: 7 per block, plus the input and the output. */
uint64_t qp_example_resstack_nodes(uint32_t blocks);
/* The number of blocks whose stack has about `nodes` nodes (at least 1). */
uint32_t qp_example_resstack_blocks(uint64_t nodes);

/*
 * Declares the modules of a stack of `blocks` torchvision BasicBlocks with
 * `channels` channels throughout (blocks.I.conv1, bn1, relu, conv2, bn2, with
 * the attribute dicts torch.fx's trace gives nn.Conv2d, nn.BatchNorm2d and
 * nn.ReLU) and records its forward pass on t: x, then per block conv1, bn1,
 * relu, conv2, bn2, operator.add (with the block's input), relu (the same
 * module called twice, as BasicBlock does), then the output. Does not finish
 * the tracer. Returns QP_OK or the first failure; the caller owns t either way.
 */
qp_status qp_example_trace_resstack(qp_tracer *t, uint32_t blocks, int64_t channels);

#ifdef __cplusplus
}
#endif

#endif
