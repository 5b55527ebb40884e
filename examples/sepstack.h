/*
 * sepstack.h - a residual stack with separate activation modules and random
 * channel counts, recorded through the qprep tracer: a second benchmark graph
 * (qprep gen --layout separate), unlike resstack.h's in module layout.
 */
#ifndef QPREP_EXAMPLE_SEPSTACK_H
#define QPREP_EXAMPLE_SEPSTACK_H

#include <qprep/qprep.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The number of blocks of a stack of about `nodes` nodes, (nodes - 3) / 8 (at least 1): a
 * block has 7 nodes and most blocks a projection, so about 8. */
uint32_t qp_example_sepstack_blocks(uint64_t nodes);

/*
 * Declares the modules of a stack of `blocks` blocks and records its forward
 * pass on t. Block I has C channels, drawn for every block in turn from
 * 4, 8, ..., 512 by Python's random.choice after random.seed(seed) (the same
 * Mersenne Twister, so a script drawing them so gets the same channels).
 * Modules, in named_modules() order: stem (nn.Conv2d 3 -> C of block 0), then
 * per block layers.I.conv1, bn1, relu1, conv2, bn2, relu2 (two nn.ReLU modules,
 * each called once) and, when block I+1 has other channels, layers.I.proj
 * (nn.Conv2d C -> C'). Forward: x, stem, then per block conv1, bn1, relu1,
 * conv2, bn2, operator.add (with the block's input), relu2, proj if any, then
 * the output. Does not finish the tracer. Returns QP_OK or the first failure
 * (QP_ERR_INVALID_ARG for no blocks or more than UINT32_MAX / 9); the caller
 * owns t either way.
 */
qp_status qp_example_trace_sepstack(qp_tracer *t, uint32_t blocks, uint64_t seed);

#ifdef __cplusplus
}
#endif

#endif
