/*
 * resnet18.h - torchvision's resnet18 driven through the qprep tracer, as a
 * C training framework would record its own model.
 */
#ifndef QPREP_EXAMPLE_RESNET18_H
#define QPREP_EXAMPLE_RESNET18_H

#include <qprep/qprep.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Declares every module of torchvision.models.resnet18() (in named_modules()
 * order, with the attributes torch.fx's trace gives them) and records its
 * forward pass on t, exactly as torch.fx's symbolic_trace records it. Does
 * not finish the tracer. Returns QP_OK, or the first failure (the tracer's
 * or a value constructor's); the caller still owns t either way.
 */
qp_status qp_example_trace_resnet18(qp_tracer *t);

#ifdef __cplusplus
}
#endif

#endif
