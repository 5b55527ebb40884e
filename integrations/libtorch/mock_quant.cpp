/*
 * mock_quant.cpp - TEMPORARY stand-in for qprep's quantizer runtime while it
 * lands on main: LearnableFakeQuantize with MinMax / EMAMinMax observers on
 * ATen's ops, behind the quant.h functions the LibTorch client calls. Built
 * only when src/quant/quant.c is missing; deleted once the runtime is there.
 */
#include "qprep_torch.h"

#include <cstring>
#include <limits>
#include <map>

struct qp_quant {
    bool per_channel = false, symmetric = true, ema = false, grad_scaling = true;
    int ch_axis = -1;
    int64_t qmin = -128, qmax = 127;
    double ema_ratio = 0.9;
    torch::Tensor scale, zero_point, fq_en, obs_en, eps, obs_eps, min_val, max_val;
    torch::Tensor scale_grad, zp_grad;
    std::string err;
    std::vector<std::pair<const char *, torch::Tensor *>>
    entries()
    {
        return {{"scale", &scale},
                {"zero_point", &zero_point},
                {"fake_quant_enabled", &fq_en},
                {"observer_enabled", &obs_en},
                {"eps", &eps},
                {"activation_post_process.eps", &obs_eps},
                {"activation_post_process.min_val", &min_val},
                {"activation_post_process.max_val", &max_val}};
    }
};

struct qp_quant_set {
    std::vector<std::pair<std::string, std::unique_ptr<qp_quant>>> qs;
    std::string err;
};

static void
fill(qp_tensor *out, torch::Tensor &t)
{
    std::memset(out, 0, sizeof *out);
    switch (t.scalar_type()) {
    case torch::kFloat:
        out->dtype = QP_DT_F32;
        break;
    case torch::kByte:
        out->dtype = QP_DT_U8;
        break;
    default:
        out->dtype = QP_DT_I64;
    }
    out->ndim = (uint32_t)t.dim();
    for (int64_t d = 0; d < t.dim(); d++)
        out->shape[d] = t.size(d);
    out->numel = (size_t)t.numel();
    out->data = t.data_ptr();
}

extern "C" {

qp_status
qp_quant_set_create(const qp_graph *g, qp_backend be, const qp_config *cfg,
                    const qp_allocator *alloc, qp_quant_set **out, qp_error *err)
{
    (void)be;
    (void)cfg;
    (void)alloc;
    (void)err;
    auto *s = new qp_quant_set;
    for (qp_module m = qp_graph_first_module(g); !qp_module_is_null(m);
         m = qp_module_next(g, m)) {
        std::string type = qp_module_type(g, m);
        if (type.rfind("fq.", 0) != 0)
            continue;
        auto q = std::make_unique<qp_quant>();
        auto I = [&](const char *k) { return qp_val_as_int(g, qp_module_attr(g, m, k)); };
        q->qmin = I("quant_min");
        q->qmax = I("quant_max");
        q->ch_axis = (int)I("ch_axis");
        std::string qs = qp_val_as_str(g, qp_module_attr(g, m, "qscheme"), nullptr);
        q->per_channel = qs.find("per_channel") != std::string::npos;
        q->symmetric = qs.find("symmetric") != std::string::npos;
        std::string path = qp_module_path(g, m);
        qp_module om = qp_graph_find_module(g, (path + ".activation_post_process").c_str());
        q->ema = std::string(qp_module_type(g, om)) == "obs.EMAMinMaxObserver";
        float e = std::numeric_limits<float>::epsilon();
        q->scale = torch::ones({1});
        q->zero_point = torch::zeros({1});
        q->fq_en = torch::ones({1}, torch::kByte);
        q->obs_en = torch::ones({1}, torch::kByte);
        q->eps = torch::full({1}, e);
        q->obs_eps = torch::full({1}, e);
        q->min_val = torch::full({}, std::numeric_limits<float>::infinity());
        q->max_val = torch::full({}, -std::numeric_limits<float>::infinity());
        q->scale_grad = torch::zeros({1});
        q->zp_grad = torch::zeros({1});
        s->qs.emplace_back(path, std::move(q));
    }
    *out = s;
    return QP_OK;
}

void
qp_quant_set_destroy(qp_quant_set *s)
{
    delete s;
}

uint32_t
qp_quant_set_size(const qp_quant_set *s)
{
    return (uint32_t)s->qs.size();
}

qp_quant *
qp_quant_set_find(qp_quant_set *s, const char *path)
{
    for (auto &e : s->qs)
        if (e.first == path)
            return e.second.get();
    return nullptr;
}

void
qp_quant_set_enable_calibration(qp_quant_set *s)
{
    for (auto &e : s->qs) {
        e.second->obs_en.fill_(1);
        e.second->fq_en.fill_(0);
    }
}

void
qp_quant_set_enable_quantization(qp_quant_set *s, bool w, bool a)
{
    (void)w;
    (void)a;
    for (auto &e : s->qs) {
        e.second->obs_en.fill_(0);
        e.second->fq_en.fill_(1);
    }
}

void
qp_quant_set_disable_all(qp_quant_set *s)
{
    for (auto &e : s->qs) {
        e.second->obs_en.fill_(0);
        e.second->fq_en.fill_(0);
    }
}

const char *
qp_quant_errmsg(const qp_quant *q)
{
    return q->err.c_str();
}

bool
qp_quant_fake_quant_enabled(const qp_quant *q)
{
    return q->fq_en.item<uint8_t>() == 1;
}

bool
qp_quant_observer_enabled(const qp_quant *q)
{
    return q->obs_en.item<uint8_t>() == 1;
}

static torch::Tensor
fq_op(qp_quant *q, const torch::Tensor &x, const torch::Tensor &scale, const torch::Tensor &zp)
{
    if (q->per_channel) {
        double gf = 1.0 / std::pow((double)x.numel() / (double)x.size(q->ch_axis) * (double)q->qmax,
                                   0.5);
        return at::_fake_quantize_learnable_per_channel_affine(x, scale, zp, q->ch_axis, q->qmin,
                                                               q->qmax, gf);
    }
    double gf = 1.0 / std::pow((double)x.numel() * (double)q->qmax, 0.5);
    return at::_fake_quantize_learnable_per_tensor_affine(x, scale, zp, q->qmin, q->qmax, gf);
}

qp_status
qp_quant_forward(qp_quant *q, const float *x, float *y, const int64_t *shape, uint32_t ndim)
{
    torch::NoGradGuard ng;
    std::vector<int64_t> sh(shape, shape + ndim);
    auto X = torch::from_blob((void *)x, sh).clone();
    if (qp_quant_observer_enabled(q)) {
        torch::Tensor mn, mx;
        if (q->per_channel) {
            auto y2 = X.transpose(0, q->ch_axis).flatten(1);
            std::tie(mn, mx) = at::aminmax(y2, 1);
        } else {
            std::tie(mn, mx) = at::aminmax(X);
        }
        if (q->ema) {
            if (q->max_val.numel() <= 1 && q->max_val.isinf().all().item<bool>()) {
                q->min_val = mn;
                q->max_val = mx;
            } else {
                q->min_val = q->min_val * q->ema_ratio + mn * (1.0 - q->ema_ratio);
                q->max_val = q->max_val * q->ema_ratio + mx * (1.0 - q->ema_ratio);
            }
        } else {
            q->min_val = at::min(q->min_val, mn);
            q->max_val = at::max(q->max_val, mx);
        }
        auto neg = at::min(q->min_val, at::zeros_like(q->min_val));
        auto pos = at::max(q->max_val, at::zeros_like(q->max_val));
        torch::Tensor s, z;
        if (q->symmetric) {
            pos = at::max(-neg, pos);
            s = pos / ((double)(q->qmax - q->qmin) / 2);
            s = at::max(s, q->obs_eps);
            z = at::zeros(s.sizes());
        } else {
            s = (pos - neg) / (double)(q->qmax - q->qmin);
            s = at::max(s, q->obs_eps);
            z = at::clamp(q->qmin - at::round(neg / s).to(torch::kInt), q->qmin, q->qmax)
                    .to(torch::kFloat);
        }
        if (s.dim() == 0)
            s = s.reshape({1});
        if (z.dim() == 0)
            z = z.reshape({1});
        q->scale = s.clone();
        q->zero_point = z.clone();
        q->scale_grad = torch::zeros_like(q->scale);
        q->zp_grad = torch::zeros_like(q->zero_point);
    } else {
        q->scale.abs_();
        q->scale.clamp_(q->eps.item<float>());
    }
    torch::Tensor Y = X;
    if (qp_quant_fake_quant_enabled(q)) {
        if (q->symmetric)
            q->zero_point.zero_();
        else
            q->zero_point.clamp_(q->qmin, q->qmax);
        Y = fq_op(q, X, q->scale, q->zero_point);
    }
    std::memcpy(y, Y.contiguous().data_ptr<float>(), (size_t)X.numel() * sizeof(float));
    return QP_OK;
}

qp_status
qp_quant_backward(qp_quant *q, const float *x, const float *dy, float *dx, const int64_t *shape,
                  uint32_t ndim)
{
    std::vector<int64_t> sh(shape, shape + ndim);
    auto X = torch::from_blob((void *)x, sh).clone().requires_grad_(true);
    auto DY = torch::from_blob((void *)dy, sh).clone();
    if (!qp_quant_fake_quant_enabled(q)) {
        std::memcpy(dx, dy, (size_t)X.numel() * sizeof(float));
        return QP_OK;
    }
    auto s = q->scale.clone().requires_grad_(true);
    auto z = q->zero_point.clone().requires_grad_(true);
    torch::Tensor Y;
    {
        torch::AutoGradMode on(true);
        Y = fq_op(q, X, s, z);
    }
    auto g = torch::autograd::grad({Y}, {X, s, z}, {DY});
    std::memcpy(dx, g[0].contiguous().data_ptr<float>(), (size_t)X.numel() * sizeof(float));
    q->scale_grad += g[1];
    q->zp_grad += g[2];
    return QP_OK;
}

void
qp_quant_zero_grad(qp_quant *q)
{
    q->scale_grad.zero_();
    q->zp_grad.zero_();
}

uint32_t
qp_quant_num_params(const qp_quant *q)
{
    (void)q;
    return 2;
}

qp_status
qp_quant_param_at(qp_quant *q, uint32_t i, qp_quant_param *out)
{
    if (i == 0)
        *out = {"scale", q->scale.data_ptr<float>(), q->scale_grad.data_ptr<float>(),
                (size_t)q->scale.numel()};
    else
        *out = {"zero_point", q->zero_point.data_ptr<float>(), q->zp_grad.data_ptr<float>(),
                (size_t)q->zero_point.numel()};
    return QP_OK;
}

uint32_t
qp_quant_num_state(const qp_quant *q)
{
    (void)q;
    return 8;
}

qp_status
qp_quant_state_at(const qp_quant *q, uint32_t i, const char **name, qp_tensor *out)
{
    auto e = const_cast<qp_quant *>(q)->entries();
    *name = e[i].first;
    fill(out, *e[i].second);
    return QP_OK;
}

qp_status
qp_quant_state_get(const qp_quant *q, const char *name, qp_tensor *out)
{
    for (auto &e : const_cast<qp_quant *>(q)->entries())
        if (!std::strcmp(e.first, name)) {
            fill(out, *e.second);
            return QP_OK;
        }
    return QP_ERR_NOT_FOUND;
}

qp_status
qp_quant_state_set(qp_quant *q, const char *name, const qp_tensor *v)
{
    for (auto &e : q->entries())
        if (!std::strcmp(e.first, name)) {
            std::vector<int64_t> sh(v->shape, v->shape + v->ndim);
            auto t = torch::from_blob(v->data, sh, e.second->options()).clone();
            *e.second = t;
            if (!std::strcmp(name, "scale"))
                q->scale_grad = torch::zeros_like(t);
            if (!std::strcmp(name, "zero_point"))
                q->zp_grad = torch::zeros_like(t);
            return QP_OK;
        }
    q->err = std::string("no entry ") + name;
    return QP_ERR_NOT_FOUND;
}

} /* extern "C" */
