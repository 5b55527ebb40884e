/*
 * vocab.c - the facts about torch and MQBench types that prepare needs:
 * class bases (for isinstance tests), canonical function names (MQBench
 * compares functions by identity; one object has several spellings), and
 * the fake-quantizer and observer kinds with the keyword arguments each
 * takes and the attributes each prints.
 */
#include "prep.h"

#include <string.h>

/* Direct bases that matter to isinstance() (torch 1.13 and MQBench class
 * definitions). A type absent here is an instance of itself only. */
static const struct {
    const char *type, *bases[2];
} bases[] = {
    {"nnqat.Conv1d", {"nn.Conv1d"}},
    {"nnqat.Conv2d", {"nn.Conv2d"}},
    {"nnqat.Conv3d", {"nn.Conv3d"}},
    {"nnqat.Linear", {"nn.Linear"}},
    {"nnqat.Embedding", {"nn.Embedding"}},
    {"nnqat.EmbeddingBag", {"nn.EmbeddingBag"}},
    {"nniqat.ConvBn1d", {"nn.Conv1d", "nni._FusedModule"}},
    {"nniqat.ConvBn2d", {"nn.Conv2d", "nni._FusedModule"}},
    {"nniqat.ConvBn3d", {"nn.Conv3d", "nni._FusedModule"}},
    {"nniqat.ConvBnReLU1d", {"nniqat.ConvBn1d"}},
    {"nniqat.ConvBnReLU2d", {"nniqat.ConvBn2d"}},
    {"nniqat.ConvBnReLU3d", {"nniqat.ConvBn3d"}},
    {"nniqat.ConvReLU1d", {"nnqat.Conv1d", "nni._FusedModule"}},
    {"nniqat.ConvReLU2d", {"nnqat.Conv2d", "nni._FusedModule"}},
    {"nniqat.ConvReLU3d", {"nnqat.Conv3d", "nni._FusedModule"}},
    {"nniqat.LinearReLU", {"nnqat.Linear", "nni._FusedModule"}},
    {"nniqat.LinearBn1d", {"nn.Linear", "nni._FusedModule"}},
    {"qnnqat.ConvTranspose2d", {"nn.ConvTranspose2d"}},
    {"qnnqat.Embedding", {"nn.Embedding"}},
    {"qnnqat.Linear", {"nnqat.Linear"}},
    {"qnnqat.Conv2d", {"nnqat.Conv2d"}},
    {"qnniqat.ConvTransposeBn2d", {"nn.ConvTranspose2d", "nni._FusedModule"}},
    {"qnniqat.ConvTransposeBnReLU2d", {"qnniqat.ConvTransposeBn2d"}},
    {"qnniqat.ConvTransposeReLU2d", {"qnnqat.ConvTranspose2d", "nni._FusedModule"}},
    {"qnniqat.LinearBn1d", {"nn.Linear", "nni._FusedModule"}},
    {"qnniqat.ConvBn2d", {"nniqat.ConvBn2d"}},
    {"qnniqat.ConvBnReLU2d", {"nniqat.ConvBnReLU2d"}},
    {"qnniqat.ConvReLU2d", {"nniqat.ConvReLU2d"}},
    {"nn.ReLU6", {"nn.Hardtanh"}},
    {"nn.UpsamplingNearest2d", {"nn.Upsample"}},
    {"nn.UpsamplingBilinear2d", {"nn.Upsample"}},
    {"nn.NonDynamicallyQuantizableLinear", {"nn.Linear"}},
};

static bool
prefixed_fused(const char *t)
{
    /* every nni.* and qnni.* float container is a _FusedModule (a Sequential) */
    return !strncmp(t, "nni.", 4) || !strncmp(t, "qnni.", 5);
}

bool
qp__type_isa(const char *t, const char *w)
{
    /* bases are at most three levels deep: iterate with a small explicit stack */
    const char *stack[16];
    int sp = 0;
    stack[sp++] = t;
    while (sp) {
        const char *x = stack[--sp];
        if (!strcmp(x, w))
            return true;
        if (!strcmp(w, "nni._FusedModule") && prefixed_fused(x))
            return true;
        for (size_t i = 0; i < sizeof bases / sizeof bases[0]; i++) {
            if (strcmp(bases[i].type, x))
                continue;
            for (int k = 0; k < 2 && bases[i].bases[k] && sp < 16; k++)
                stack[sp++] = bases[i].bases[k];
        }
    }
    return false;
}

uint32_t
qp__type_ancestors(const char *t, const char **out, uint32_t cap)
{
    /* the walk of qp__type_isa, keeping every type it reaches */
    const char *stack[16];
    int sp = 0;
    uint32_t n = 0;
    bool fused = false;
    stack[sp++] = t;
    while (sp) {
        const char *x = stack[--sp];
        bool seen = false;
        for (uint32_t i = 0; i < n && !seen; i++)
            seen = !strcmp(out[i], x);
        if (!seen && n < cap)
            out[n++] = x;
        fused = fused || prefixed_fused(x);
        for (size_t i = 0; i < sizeof bases / sizeof bases[0]; i++) {
            if (strcmp(bases[i].type, x))
                continue;
            for (int k = 0; k < 2 && bases[i].bases[k] && sp < 16; k++)
                stack[sp++] = bases[i].bases[k];
        }
    }
    if (fused && n < cap)
        out[n++] = "nni._FusedModule";
    return n;
}

static const struct {
    const char *from, *to;
} aliases[] = {
    {"torch.nn.functional.conv1d", "torch.conv1d"},
    {"torch.nn.functional.conv2d", "torch.conv2d"},
    {"torch.nn.functional.conv3d", "torch.conv3d"},
    {"torch.nn.functional.conv_transpose2d", "torch.conv_transpose2d"},
    {"torch.nn.functional.avg_pool2d", "torch._C._nn.avg_pool2d"},
    {"torch.nn.functional.linear", "torch._C._nn.linear"},
    {"torch.nn.functional.gelu", "torch._C._nn.gelu"},
    {"builtins.getattr", "getattr"},
    {"_operator.add", "operator.add"},
    {"_operator.mul", "operator.mul"},
    {"_operator.truediv", "operator.truediv"},
    {"_operator.getitem", "operator.getitem"},
    {"_operator.sub", "operator.sub"},
    {"_operator.floordiv", "operator.floordiv"},
    {"_operator.matmul", "operator.matmul"},
};

const char *
qp__canon_fn(const char *s)
{
    for (size_t i = 0; i < sizeof aliases / sizeof aliases[0]; i++)
        if (!strcmp(aliases[i].from, s))
            return aliases[i].to;
    return s;
}

/* ==== fake-quantizer and observer kinds ==== */

static const char *const none[] = {NULL};
static const char *const lsq_consumes[] = {"scale", "zero_point", "use_grad_scaling", NULL};
static const char *const tqt_consumes[] = {"scale", "zero_point", NULL};
static const char *const alpha[] = {"alpha", NULL};

static const struct qp__fqkind fqkinds[] = {
    {"FixedFakeQuantize", none, false, false, false},
    {"LearnableFakeQuantize", lsq_consumes, true, true, false},
    {"NNIEFakeQuantize", none, false, false, false},
    {"DoReFaFakeQuantize", none, false, false, false},
    {"DSQFakeQuantize", alpha, false, false, false},
    {"PACTFakeQuantize", alpha, false, false, false},
    {"TqtFakeQuantize", tqt_consumes, true, false, true},
    {"AdaRoundFakeQuantize", none, false, false, false},
    {"QDropFakeQuantize", none, false, false, false},
};

static const char *const quantile_args[] = {"threshold", "bins", NULL};
static const char *const clipstd_args[] = {"std_scale", NULL};

static const struct qp__obskind obskinds[] = {
    {"MinMaxObserver", false, false, false, none, false},
    {"EMAMinMaxObserver", false, true, false, none, false},
    {"MinMaxFloorObserver", false, false, true, none, false},
    {"PoTModeObserver", false, false, true, none, false},
    {"EMAQuantileObserver", false, true, false, quantile_args, true},
    {"ClipStdObserver", false, false, false, clipstd_args, false},
    {"LSQObserver", false, false, false, none, false},
    {"MSEObserver", true, false, false, none, false},
    {"EMAMSEObserver", true, true, false, none, false},
};

int
qp__fq_find(const char *name)
{
    for (size_t i = 0; i < sizeof fqkinds / sizeof fqkinds[0]; i++)
        if (!strcmp(fqkinds[i].name, name))
            return (int)i;
    return -1;
}

int
qp__obs_find(const char *name)
{
    for (size_t i = 0; i < sizeof obskinds / sizeof obskinds[0]; i++)
        if (!strcmp(obskinds[i].name, name))
            return (int)i;
    return -1;
}

const struct qp__fqkind *
qp__fq_kind(int i)
{
    return &fqkinds[i];
}

const struct qp__obskind *
qp__obs_kind(int i)
{
    return &obskinds[i];
}

const char *
qp__obs_names(void)
{
    return "MinMaxObserver, EMAMinMaxObserver, MinMaxFloorObserver, PoTModeObserver, "
           "EMAQuantileObserver, ClipStdObserver, LSQObserver, MSEObserver, EMAMSEObserver";
}

const char *
qp__fq_names(void)
{
    return "FixedFakeQuantize, LearnableFakeQuantize, NNIEFakeQuantize, DoReFaFakeQuantize, "
           "DSQFakeQuantize, PACTFakeQuantize, TqtFakeQuantize, AdaRoundFakeQuantize, "
           "QDropFakeQuantize";
}
