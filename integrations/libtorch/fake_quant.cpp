/*
 * fake_quant.cpp - a fake-quantizer module over qprep's quantizer runtime:
 * forward and backward are qp_quant_forward / qp_quant_backward inside a
 * torch::autograd::Function; the learnable parameters are torch parameters
 * the runtime reads before each forward and writes back after it.
 */
#include "qprep_torch.h"

#include <cstring>

namespace qptorch
{

namespace
{

torch::ScalarType
scalar_type(qp_dtype t)
{
    switch (t) {
    case QP_DT_F32:
        return torch::kFloat;
    case QP_DT_I32:
        return torch::kInt;
    case QP_DT_I64:
        return torch::kLong;
    case QP_DT_U8:
        return torch::kByte;
    case QP_DT_BOOL:
        return torch::kBool;
    }
    throw Error("unknown qp_dtype");
}

qp_dtype
qp_type(torch::ScalarType t)
{
    switch (t) {
    case torch::kFloat:
        return QP_DT_F32;
    case torch::kInt:
        return QP_DT_I32;
    case torch::kLong:
        return QP_DT_I64;
    case torch::kByte:
        return QP_DT_U8;
    case torch::kBool:
        return QP_DT_BOOL;
    default:
        throw Error(std::string("no quantizer state has dtype ") + c10::toString(t));
    }
}

/* A copy of a runtime tensor. */
torch::Tensor
from_qp(const qp_tensor &t)
{
    std::vector<int64_t> shape(t.shape, t.shape + t.ndim);
    auto out = torch::empty(shape, torch::TensorOptions().dtype(scalar_type(t.dtype)));
    if (t.numel)
        std::memcpy(out.data_ptr(), t.data, t.numel * out.element_size());
    return out;
}

std::vector<int64_t>
shape_of(const torch::Tensor &x)
{
    return std::vector<int64_t>(x.sizes().begin(), x.sizes().end());
}

/* y = fq(x): the runtime's forward; backward: the runtime's backward, giving
 * dx and the gradients of the learnable parameters (inputs after x). */
struct QuantFn : public torch::autograd::Function<QuantFn> {
    static torch::Tensor
    forward(torch::autograd::AutogradContext *ctx, const torch::Tensor &x, at::TensorList params,
            FakeQuantImpl *self)
    {
        (void)params; /* the runtime holds their values (push_params ran) */
        auto xc = x.contiguous();
        auto y = torch::empty_like(xc);
        auto shape = shape_of(xc);
        if (qp_quant_forward(self->quantizer(), xc.data_ptr<float>(), y.data_ptr<float>(),
                             shape.data(), (uint32_t)shape.size()))
            self->fail("forward");
        /* backward runs on the values this forward used (after abs/clamp) */
        auto used = self->runtime_params();
        ctx->saved_data["self"] = (int64_t)(intptr_t)self;
        ctx->saved_data["params"] = c10::List<torch::Tensor>(used);
        ctx->save_for_backward({xc});
        return y;
    }

    static torch::autograd::variable_list
    backward(torch::autograd::AutogradContext *ctx, torch::autograd::variable_list grad_out)
    {
        auto *self = (FakeQuantImpl *)(intptr_t)ctx->saved_data["self"].toInt();
        auto used = ctx->saved_data["params"].toTensorList().vec();
        auto x = ctx->get_saved_variables()[0];
        auto dy = grad_out[0].contiguous();
        auto dx = torch::empty_like(x);
        auto shape = shape_of(x);
        qp_quant *q = self->quantizer();
        self->set_runtime_params(used);
        qp_quant_zero_grad(q);
        if (qp_quant_backward(q, x.data_ptr<float>(), dy.data_ptr<float>(), dx.data_ptr<float>(),
                              shape.data(), (uint32_t)shape.size()))
            self->fail("backward");
        torch::autograd::variable_list out{dx};
        uint32_t n = qp_quant_num_params(q);
        for (uint32_t i = 0; i < n; i++) {
            qp_quant_param p;
            if (qp_quant_param_at(q, i, &p))
                self->fail("param_at");
            auto g = torch::empty(used[i].sizes(), torch::kFloat);
            if ((size_t)g.numel() != p.numel)
                throw Error(self->path() + ": " + p.name +
                            " changed size between forward and "
                            "backward");
            std::memcpy(g.data_ptr<float>(), p.grad, p.numel * sizeof(float));
            out.push_back(g);
        }
        out.push_back(torch::Tensor()); /* self */
        return out;
    }
};

} // namespace

FakeQuantImpl::FakeQuantImpl(qp_quant *q, std::string path) : q_(q), path_(std::move(path))
{
    uint32_t n = qp_quant_num_params(q_);
    for (uint32_t i = 0; i < n; i++) {
        qp_quant_param p;
        if (qp_quant_param_at(q_, i, &p))
            fail("param_at");
        qp_tensor t;
        if (qp_quant_state_get(q_, p.name, &t))
            fail("state_get");
        names_.emplace_back(p.name);
        params_.push_back(register_parameter(p.name, from_qp(t)));
    }
}

void
FakeQuantImpl::fail(const char *what) const
{
    throw Error(path_ + ": quantizer " + what + ": " + qp_quant_errmsg(q_));
}

void
FakeQuantImpl::push_params()
{
    for (size_t i = 0; i < params_.size(); i++) {
        qp_quant_param p;
        if (qp_quant_param_at(q_, (uint32_t)i, &p))
            fail("param_at");
        auto v = params_[i].detach().contiguous();
        if ((size_t)v.numel() == p.numel) {
            std::memcpy(p.data, v.data_ptr<float>(), p.numel * sizeof(float));
            continue;
        }
        /* resized by the caller: the runtime checks the new shape */
        qp_tensor t{};
        t.dtype = QP_DT_F32;
        t.ndim = (uint32_t)v.dim();
        for (int64_t d = 0; d < v.dim(); d++)
            t.shape[d] = v.size(d);
        t.numel = (size_t)v.numel();
        t.data = v.data_ptr();
        if (qp_quant_state_set(q_, names_[i].c_str(), &t))
            fail("state_set");
    }
}

std::vector<torch::Tensor>
FakeQuantImpl::runtime_params() const
{
    std::vector<torch::Tensor> out;
    for (size_t i = 0; i < names_.size(); i++) {
        qp_tensor t;
        if (qp_quant_state_get(q_, names_[i].c_str(), &t))
            fail("state_get");
        out.push_back(from_qp(t));
    }
    return out;
}

void
FakeQuantImpl::set_runtime_params(const std::vector<torch::Tensor> &values)
{
    for (size_t i = 0; i < names_.size() && i < values.size(); i++) {
        qp_quant_param p;
        if (qp_quant_param_at(q_, (uint32_t)i, &p))
            fail("param_at");
        if ((size_t)values[i].numel() != p.numel)
            throw Error(path_ + ": " + names_[i] + " changed size between forward and backward");
        std::memcpy(p.data, values[i].data_ptr<float>(), p.numel * sizeof(float));
    }
}

void
FakeQuantImpl::pull_params()
{
    torch::NoGradGuard ng;
    auto now = runtime_params();
    for (size_t i = 0; i < params_.size(); i++) {
        if (params_[i].sizes() == now[i].sizes())
            params_[i].copy_(now[i]);
        else
            params_[i].set_data(now[i]); /* MQBench: scale.data = ones_like(scale_obs) */
    }
}

torch::Tensor
FakeQuantImpl::forward(const torch::Tensor &x)
{
    if (x.scalar_type() != torch::kFloat || !x.device().is_cpu())
        throw Error(path_ + ": the quantizer runtime takes float32 CPU tensors, got " +
                    std::string(c10::toString(x.scalar_type())) + " on " + x.device().str());
    push_params();
    if (!qp_quant_fake_quant_enabled(q_)) {
        /* MQBench returns X itself; the observer (if on) still sees it */
        if (qp_quant_observer_enabled(q_)) {
            auto xc = x.detach().contiguous();
            auto y = torch::empty_like(xc);
            auto shape = shape_of(xc);
            if (qp_quant_forward(q_, xc.data_ptr<float>(), y.data_ptr<float>(), shape.data(),
                                 (uint32_t)shape.size()))
                fail("forward");
            pull_params();
        }
        return x;
    }
    auto y = QuantFn::apply(x, at::TensorList(params_), this);
    pull_params();
    return y;
}

void
FakeQuantImpl::append_state(const std::string &prefix, StateDict &out) const
{
    uint32_t n = qp_quant_num_state(q_);
    for (uint32_t i = 0; i < n; i++) {
        const char *name;
        qp_tensor t;
        if (qp_quant_state_at(q_, i, &name, &t))
            fail("state_at");
        size_t j = 0;
        while (j < names_.size() && names_[j] != name)
            j++;
        out.emplace_back(prefix + name, j < names_.size() ? params_[j] : from_qp(t));
    }
}

bool
FakeQuantImpl::load_entry(const std::string &name, const torch::Tensor &value)
{
    qp_tensor cur;
    if (qp_quant_state_get(q_, name.c_str(), &cur))
        return false;
    auto v = value.detach().to(torch::kCPU).to(scalar_type(cur.dtype)).contiguous();
    qp_tensor t{};
    t.dtype = qp_type(v.scalar_type());
    t.ndim = (uint32_t)v.dim();
    if (t.ndim > QP_QUANT_MAX_DIMS)
        throw Error(path_ + "." + name + ": too many dimensions");
    for (int64_t d = 0; d < v.dim(); d++)
        t.shape[d] = v.size(d);
    t.numel = (size_t)v.numel();
    t.data = v.data_ptr();
    if (qp_quant_state_set(q_, name.c_str(), &t))
        fail(("load " + name).c_str());
    pull_params();
    return true;
}

} // namespace qptorch
