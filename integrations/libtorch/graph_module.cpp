/*
 * graph_module.cpp - a qgraph run as a torch::nn::Module: one module per
 * call_module target built from its type and attributes (float modules, torch's
 * and MQBench's QAT modules, fake-quantizers on qprep's runtime), the ATen
 * operation each call_function / call_method names, run in graph order.
 * Everything is resolved at construction, so an unsupported type or function
 * fails there, naming the node.
 */
#include "qprep_torch.h"

#include <cmath>
#include <functional>
#include <map>
#include <unordered_map>

namespace qptorch
{

namespace
{

/* ==== Values flowing between nodes ==== */

struct V {
    enum K { NONE, BOOL, INT, FLOAT, STR, IDENT, TENSOR, SEQ, DICT, SLICE } k = NONE;
    bool b = false;
    int64_t i = 0;
    double f = 0;
    std::string s;
    torch::Tensor t;
    std::vector<V> items; /* SEQ, DICT values, SLICE (start, stop, step) */
    std::vector<std::string> keys;

    V() = default;
    V(torch::Tensor x) : k(TENSOR), t(std::move(x))
    {
    }
    static V
    of_int(int64_t x)
    {
        V v;
        v.k = INT;
        v.i = x;
        return v;
    }
    static V
    of_float(double x)
    {
        V v;
        v.k = FLOAT;
        v.f = x;
        return v;
    }
    static V
    of_bool(bool x)
    {
        V v;
        v.k = BOOL;
        v.b = x;
        return v;
    }
    static V
    seq(std::vector<V> xs)
    {
        V v;
        v.k = SEQ;
        v.items = std::move(xs);
        return v;
    }
    static V
    tensors(const std::vector<torch::Tensor> &ts)
    {
        std::vector<V> xs(ts.begin(), ts.end());
        return seq(std::move(xs));
    }
    static V
    ints(at::IntArrayRef xs)
    {
        std::vector<V> out;
        for (auto x : xs)
            out.push_back(of_int(x));
        return seq(std::move(out));
    }
    bool
    is_num() const
    {
        return k == INT || k == FLOAT || k == BOOL;
    }
};

const char *
kind_name(const V &v)
{
    static const char *const n[] = {"None",  "bool",   "int", "float", "str",
                                    "ident", "Tensor", "seq", "dict",  "slice"};
    return n[v.k];
}

/* One call: positional and keyword arguments, evaluated. */
struct Call {
    const std::string *node;
    std::vector<V> args;
    std::vector<std::pair<std::string, V>> kwargs;
    bool training;

    [[noreturn]] void
    fail(const std::string &msg) const
    {
        throw Error("node " + *node + ": " + msg);
    }
    /* args[i], or kwargs[key], or NULL */
    const V *
    get(size_t i, const char *key) const
    {
        if (i < args.size())
            return &args[i];
        if (key)
            for (const auto &kv : kwargs)
                if (kv.first == key)
                    return &kv.second;
        return nullptr;
    }
    const V &
    need(size_t i, const char *key) const
    {
        const V *v = get(i, key);
        if (!v)
            fail(std::string("missing argument ") + (key ? key : std::to_string(i)));
        return *v;
    }
    torch::Tensor
    tensor(size_t i, const char *key = nullptr) const
    {
        const V &v = need(i, key);
        if (v.k != V::TENSOR)
            fail(std::string("argument ") + (key ? key : std::to_string(i)) +
                 " is not a tensor but " + kind_name(v));
        return v.t;
    }
    int64_t
    to_int(const V &v) const
    {
        if (v.k == V::INT)
            return v.i;
        if (v.k == V::BOOL)
            return v.b;
        if (v.k == V::TENSOR && v.t.numel() == 1 && !v.t.is_floating_point())
            return v.t.item<int64_t>();
        fail(std::string("expected an int, got ") + kind_name(v));
    }
    double
    to_float(const V &v) const
    {
        if (v.k == V::FLOAT)
            return v.f;
        if (v.k == V::INT)
            return (double)v.i;
        if (v.k == V::BOOL)
            return v.b;
        if (v.k == V::TENSOR && v.t.numel() == 1)
            return v.t.item<double>();
        fail(std::string("expected a float, got ") + kind_name(v));
    }
    int64_t
    i(size_t idx, const char *key, int64_t def) const
    {
        const V *v = get(idx, key);
        return v && v->k != V::NONE ? to_int(*v) : def;
    }
    double
    f(size_t idx, const char *key, double def) const
    {
        const V *v = get(idx, key);
        return v && v->k != V::NONE ? to_float(*v) : def;
    }
    bool
    flag(size_t idx, const char *key, bool def) const
    {
        const V *v = get(idx, key);
        return v && v->k != V::NONE ? to_int(*v) != 0 : def;
    }
    std::vector<int64_t>
    ints_of(const V &v) const
    {
        std::vector<int64_t> out;
        if (v.k == V::SEQ)
            for (const auto &x : v.items)
                out.push_back(to_int(x));
        else
            out.push_back(to_int(v));
        return out;
    }
    /* a shape given as f(x, 2, 3) or f(x, (2, 3)), from position `from` */
    std::vector<int64_t>
    varargs_ints(size_t from, const char *key) const
    {
        if (args.size() == from + 1 && args[from].k == V::SEQ)
            return ints_of(args[from]);
        if (args.size() > from) {
            std::vector<int64_t> out;
            for (size_t j = from; j < args.size(); j++)
                out.push_back(to_int(args[j]));
            return out;
        }
        const V *v = get(SIZE_MAX, key);
        if (!v)
            fail(std::string("missing argument ") + key);
        return ints_of(*v);
    }
    std::vector<torch::Tensor>
    tensor_list(size_t idx, const char *key) const
    {
        const V &v = need(idx, key);
        if (v.k != V::SEQ)
            fail("expected a sequence of tensors");
        std::vector<torch::Tensor> out;
        for (const auto &x : v.items) {
            if (x.k != V::TENSOR)
                fail("expected a sequence of tensors");
            out.push_back(x.t);
        }
        return out;
    }
};

at::Scalar
scalar(const Call &c, const V &v)
{
    if (v.k == V::INT)
        return at::Scalar(v.i);
    if (v.k == V::FLOAT)
        return at::Scalar(v.f);
    if (v.k == V::BOOL)
        return at::Scalar(v.b);
    c.fail(std::string("expected a number, got ") + kind_name(v));
}

using Fn = std::function<V(Call &)>;

/* ==== Arithmetic (operator.*, torch.add, Tensor.add, ...) as Python does it ==== */

enum Arith { ADD, SUB, MUL, DIV, FLOORDIV, POW, MATMUL, MOD };

int64_t
py_floordiv(int64_t a, int64_t b)
{
    int64_t q = a / b;
    if ((a % b != 0) && ((a < 0) != (b < 0)))
        q--;
    return q;
}

V
arith(Call &c, Arith op)
{
    const V &a = c.need(0, "input"), &b = c.need(1, "other");
    if (a.k == V::TENSOR && b.k == V::TENSOR) {
        switch (op) {
        case ADD: {
            const V *al = c.get(2, "alpha");
            return al ? at::add(a.t, b.t, scalar(c, *al)) : at::add(a.t, b.t);
        }
        case SUB:
            return at::sub(a.t, b.t);
        case MUL:
            return at::mul(a.t, b.t);
        case DIV:
            return at::div(a.t, b.t);
        case FLOORDIV:
            return at::floor_divide(a.t, b.t);
        case POW:
            return at::pow(a.t, b.t);
        case MATMUL:
            return at::matmul(a.t, b.t);
        case MOD:
            return at::remainder(a.t, b.t);
        }
    }
    if (a.k == V::TENSOR && b.is_num()) {
        at::Scalar s = scalar(c, b);
        switch (op) {
        case ADD:
            return at::add(a.t, s);
        case SUB:
            return at::sub(a.t, s);
        case MUL:
            return at::mul(a.t, s);
        case DIV:
            return at::div(a.t, s);
        case FLOORDIV:
            return at::floor_divide(a.t, s);
        case POW:
            return at::pow(a.t, s);
        case MOD:
            return at::remainder(a.t, s);
        case MATMUL:
            break;
        }
    }
    if (a.is_num() && b.k == V::TENSOR) {
        at::Scalar s = scalar(c, a);
        switch (op) { /* Tensor.__r*__ */
        case ADD:
            return at::add(b.t, s);
        case SUB:
            return at::rsub(b.t, s);
        case MUL:
            return at::mul(b.t, s);
        case DIV:
            return at::mul(at::reciprocal(b.t), s);
        case FLOORDIV:
            return at::floor_divide(at::scalar_tensor(s, b.t.options()), b.t);
        case POW:
            return at::pow(s, b.t);
        case MOD:
            return at::remainder(at::scalar_tensor(s, b.t.options()), b.t);
        case MATMUL:
            break;
        }
    }
    if (a.is_num() && b.is_num()) {
        bool ints = a.k != V::FLOAT && b.k != V::FLOAT;
        if (ints) {
            int64_t x = c.to_int(a), y = c.to_int(b);
            switch (op) {
            case ADD:
                return V::of_int(x + y);
            case SUB:
                return V::of_int(x - y);
            case MUL:
                return V::of_int(x * y);
            case DIV:
                return V::of_float((double)x / (double)y);
            case FLOORDIV:
                if (!y)
                    c.fail("integer division by zero");
                return V::of_int(py_floordiv(x, y));
            case MOD:
                if (!y)
                    c.fail("integer modulo by zero");
                return V::of_int(x - py_floordiv(x, y) * y);
            case POW:
                if (y >= 0) {
                    int64_t r = 1;
                    for (int64_t k = 0; k < y; k++)
                        r *= x;
                    return V::of_int(r);
                }
                return V::of_float(std::pow((double)x, (double)y));
            case MATMUL:
                break;
            }
        } else {
            double x = c.to_float(a), y = c.to_float(b);
            switch (op) {
            case ADD:
                return V::of_float(x + y);
            case SUB:
                return V::of_float(x - y);
            case MUL:
                return V::of_float(x * y);
            case DIV:
                return V::of_float(x / y);
            case FLOORDIV:
                return V::of_float(std::floor(x / y));
            case MOD:
                return V::of_float(x - std::floor(x / y) * y);
            case POW:
                return V::of_float(std::pow(x, y));
            case MATMUL:
                break;
            }
        }
    }
    if (op == ADD && a.k == V::SEQ && b.k == V::SEQ) { /* tuple concatenation */
        V r = a;
        r.items.insert(r.items.end(), b.items.begin(), b.items.end());
        return r;
    }
    c.fail(std::string("unsupported operands ") + kind_name(a) + " and " + kind_name(b));
}

/* ==== Indexing ==== */

at::indexing::TensorIndex
tensor_index(const Call &c, const V &v)
{
    using namespace at::indexing;
    switch (v.k) {
    case V::INT:
        return TensorIndex(v.i);
    case V::BOOL:
        return TensorIndex(v.b);
    case V::NONE:
        return TensorIndex(None);
    case V::TENSOR:
        return TensorIndex(v.t);
    case V::IDENT:
        if (v.s == "Ellipsis" || v.s == "...")
            return TensorIndex(Ellipsis);
        break;
    case V::SLICE: {
        auto opt = [&](const V &x) -> c10::optional<int64_t> {
            if (x.k == V::NONE)
                return c10::nullopt;
            return c.to_int(x);
        };
        return TensorIndex(Slice(opt(v.items[0]), opt(v.items[1]), opt(v.items[2])));
    }
    default:
        break;
    }
    c.fail(std::string("cannot index a tensor with ") + kind_name(v));
}

V
getitem(Call &c)
{
    const V &a = c.need(0, nullptr), &idx = c.need(1, nullptr);
    if (a.k == V::TENSOR) {
        std::vector<at::indexing::TensorIndex> ix;
        if (idx.k == V::SEQ)
            for (const auto &x : idx.items)
                ix.push_back(tensor_index(c, x));
        else
            ix.push_back(tensor_index(c, idx));
        return a.t.index(ix);
    }
    if (a.k == V::SEQ) {
        int64_t n = (int64_t)a.items.size();
        if (idx.k == V::INT) {
            int64_t k = idx.i < 0 ? idx.i + n : idx.i;
            if (k < 0 || k >= n)
                c.fail("index " + std::to_string(idx.i) + " out of range");
            return a.items[(size_t)k];
        }
        if (idx.k == V::SLICE) {
            int64_t step = idx.items[2].k == V::NONE ? 1 : c.to_int(idx.items[2]);
            if (step == 0)
                c.fail("slice step cannot be zero");
            auto norm = [&](const V &x, int64_t def) {
                if (x.k == V::NONE)
                    return def;
                int64_t k = c.to_int(x);
                if (k < 0)
                    k += n;
                if (step > 0)
                    return std::min(std::max<int64_t>(k, 0), n);
                return std::min(std::max<int64_t>(k, -1), n - 1);
            };
            int64_t lo = norm(idx.items[0], step > 0 ? 0 : n - 1);
            int64_t hi = norm(idx.items[1], step > 0 ? n : -1);
            V r;
            r.k = V::SEQ;
            for (int64_t k = lo; step > 0 ? k < hi : k > hi; k += step)
                r.items.push_back(a.items[(size_t)k]);
            return r;
        }
    }
    if (a.k == V::DICT && idx.k == V::STR) {
        for (size_t k = 0; k < a.keys.size(); k++)
            if (a.keys[k] == idx.s)
                return a.items[k];
        c.fail("no key " + idx.s);
    }
    c.fail(std::string("cannot index ") + kind_name(a) + " with " + kind_name(idx));
}

/* ==== Functions and methods ==== */

int64_t
dim_arg(const Call &c, size_t i, const char *key, int64_t def)
{
    return c.i(i, key, def);
}

c10::optional<at::ScalarType>
dtype_arg(const Call &c, size_t i, const char *key)
{
    const V *v = c.get(i, key);
    if (!v || v->k == V::NONE)
        return c10::nullopt;
    static const std::pair<const char *, at::ScalarType> names[] = {
        {"torch.float32", at::kFloat},  {"torch.float", at::kFloat},
        {"torch.float64", at::kDouble}, {"torch.double", at::kDouble},
        {"torch.float16", at::kHalf},   {"torch.half", at::kHalf},
        {"torch.int64", at::kLong},     {"torch.long", at::kLong},
        {"torch.int32", at::kInt},      {"torch.int", at::kInt},
        {"torch.uint8", at::kByte},     {"torch.int8", at::kChar},
        {"torch.bool", at::kBool},      {"torch.bfloat16", at::kBFloat16}};
    for (const auto &n : names)
        if (v->s == n.first)
            return n.second;
    c.fail("unsupported dtype " + v->s);
}

V
softmax(Call &c, bool log)
{
    auto x = c.tensor(0, "input");
    const V *d = c.get(1, "dim");
    if (!d || d->k == V::NONE)
        c.fail("softmax without dim is not supported");
    auto dt = dtype_arg(c, 3, "dtype");
    int64_t dim = c.to_int(*d);
    return log ? at::log_softmax(x, dim, dt) : at::softmax(x, dim, dt);
}

V
interpolate(Call &c, torch::Tensor x, const V *size, const V *scale, std::string mode,
            c10::optional<bool> align, bool recompute = false)
{
    namespace F = torch::nn::functional;
    F::InterpolateFuncOptions o;
    int64_t nd = x.dim() - 2;
    if (size && size->k != V::NONE) {
        auto s = c.ints_of(*size);
        if (s.size() == 1)
            s.assign((size_t)nd, s[0]);
        o.size(s);
    }
    if (scale && scale->k != V::NONE) {
        std::vector<double> s;
        if (scale->k == V::SEQ)
            for (const auto &x1 : scale->items)
                s.push_back(c.to_float(x1));
        else
            s.assign((size_t)nd, c.to_float(*scale));
        o.scale_factor(s);
    }
    if (mode == "nearest")
        o.mode(torch::kNearest);
    else if (mode == "linear")
        o.mode(torch::kLinear);
    else if (mode == "bilinear")
        o.mode(torch::kBilinear);
    else if (mode == "bicubic")
        o.mode(torch::kBicubic);
    else if (mode == "trilinear")
        o.mode(torch::kTrilinear);
    else if (mode == "area")
        o.mode(torch::kArea);
    else if (mode == "nearest-exact")
        o.mode(torch::kNearestExact);
    else
        c.fail("unsupported interpolation mode " + mode);
    if (align)
        o.align_corners(*align);
    /* None and False are the same path (Python does not warn any more) */
    o.recompute_scale_factor(recompute);
    return F::interpolate(x, o);
}

std::vector<int64_t>
pool_ints(const Call &c, size_t i, const char *key, std::vector<int64_t> def, size_t n)
{
    const V *v = c.get(i, key);
    std::vector<int64_t> out = v && v->k != V::NONE ? c.ints_of(*v) : def;
    if (out.size() == 1 && n > 1)
        out.assign(n, out[0]);
    return out;
}

V
max_pool(Call &c, size_t n)
{
    auto x = c.tensor(0, "input");
    auto k = pool_ints(c, 1, "kernel_size", {}, n);
    auto s = pool_ints(c, 2, "stride", {}, n);
    auto p = pool_ints(c, 3, "padding", {0}, n);
    auto d = pool_ints(c, 4, "dilation", {1}, n);
    bool ceil = c.flag(5, "ceil_mode", false);
    if (c.flag(6, "return_indices", false))
        c.fail("max pooling with return_indices is not supported");
    if (n == 1)
        return at::max_pool1d(x, k, s, p, d, ceil);
    if (n == 2)
        return at::max_pool2d(x, k, s, p, d, ceil);
    return at::max_pool3d(x, k, s, p, d, ceil);
}

V
avg_pool(Call &c, size_t n)
{
    auto x = c.tensor(0, "input");
    auto k = pool_ints(c, 1, "kernel_size", {}, n);
    auto s = pool_ints(c, 2, "stride", {}, n);
    auto p = pool_ints(c, 3, "padding", {0}, n);
    bool ceil = c.flag(4, "ceil_mode", false);
    bool cip = c.flag(5, "count_include_pad", true);
    const V *dv = c.get(6, "divisor_override");
    c10::optional<int64_t> div;
    if (dv && dv->k != V::NONE)
        div = c.to_int(*dv);
    if (n == 1)
        return at::avg_pool1d(x, k, s, p, ceil, cip);
    if (n == 2)
        return at::avg_pool2d(x, k, s, p, ceil, cip, div);
    return at::avg_pool3d(x, k, s, p, ceil, cip, div);
}

/* F.adaptive_*: None entries of output_size take the input's size */
std::vector<int64_t>
adaptive_size(const Call &c, const torch::Tensor &x, const V &v, size_t n)
{
    std::vector<int64_t> out;
    if (v.k == V::SEQ) {
        for (size_t j = 0; j < v.items.size(); j++)
            out.push_back(v.items[j].k == V::NONE ? x.size(x.dim() - (int64_t)n + (int64_t)j)
                                                  : c.to_int(v.items[j]));
    } else {
        out.assign(n, c.to_int(v));
    }
    return out;
}

V
adaptive_avg(Call &c, size_t n)
{
    auto x = c.tensor(0, "input");
    auto s = adaptive_size(c, x, c.need(1, "output_size"), n);
    if (n == 1)
        return at::adaptive_avg_pool1d(x, s);
    if (n == 2)
        return at::adaptive_avg_pool2d(x, s);
    return at::adaptive_avg_pool3d(x, s);
}

V
adaptive_max(Call &c, size_t n)
{
    auto x = c.tensor(0, "input");
    auto s = adaptive_size(c, x, c.need(1, "output_size"), n);
    if (n == 1)
        return std::get<0>(at::adaptive_max_pool1d(x, s));
    if (n == 2)
        return std::get<0>(at::adaptive_max_pool2d(x, s));
    return std::get<0>(at::adaptive_max_pool3d(x, s));
}

V
reduce(Call &c, bool mean)
{
    auto x = c.tensor(0, "input");
    const V *d = c.get(1, "dim");
    bool keep = c.flag(2, "keepdim", false);
    auto dt = dtype_arg(c, 3, "dtype");
    if (!d || d->k == V::NONE)
        return mean ? at::mean(x, dt) : at::sum(x, dt);
    auto dims = c.ints_of(*d);
    return mean ? at::mean(x, dims, keep, dt) : at::sum(x, dims, keep, dt);
}

V
chunk_split(Call &c, bool chunk)
{
    auto x = c.tensor(0, "input");
    int64_t dim = dim_arg(c, 2, "dim", 0);
    if (chunk)
        return V::tensors(at::chunk(x, c.to_int(c.need(1, "chunks")), dim));
    const V &s = c.need(1, "split_size_or_sections");
    if (s.k == V::SEQ)
        return V::tensors(at::split_with_sizes(x, c.ints_of(s), dim));
    return V::tensors(at::split(x, c.to_int(s), dim));
}

V
size_of(Call &c)
{
    auto x = c.tensor(0, "input");
    const V *d = c.get(1, "dim");
    if (d && d->k != V::NONE)
        return V::of_int(x.size(c.to_int(*d)));
    return V::ints(x.sizes());
}

V
conv_fn(Call &c, int n)
{
    auto x = c.tensor(0, "input");
    auto w = c.tensor(1, "weight");
    const V *bv = c.get(2, "bias");
    c10::optional<torch::Tensor> b;
    if (bv && bv->k == V::TENSOR)
        b = bv->t;
    auto s = pool_ints(c, 3, "stride", {1}, (size_t)n);
    auto d = pool_ints(c, 5, "dilation", {1}, (size_t)n);
    int64_t g = c.i(6, "groups", 1);
    const V *pv = c.get(4, "padding");
    if (pv && pv->k == V::STR) {
        if (n == 1)
            return at::conv1d(x, w, b, s, pv->s, d, g);
        if (n == 2)
            return at::conv2d(x, w, b, s, pv->s, d, g);
        return at::conv3d(x, w, b, s, pv->s, d, g);
    }
    auto p = pool_ints(c, 4, "padding", {0}, (size_t)n);
    if (n == 1)
        return at::conv1d(x, w, b, s, p, d, g);
    if (n == 2)
        return at::conv2d(x, w, b, s, p, d, g);
    return at::conv3d(x, w, b, s, p, d, g);
}

V
dropout(Call &c)
{
    auto x = c.tensor(0, "input");
    double p = c.f(1, "p", 0.5);
    bool train = c.flag(2, "training", true);
    return at::dropout(x, p, train);
}

/* fn(x) for one-tensor activations */
Fn
unary(torch::Tensor (*f)(const torch::Tensor &))
{
    return [f](Call &c) { return V(f(c.tensor(0, "input"))); };
}

const std::unordered_map<std::string, Fn> &
functions()
{
    static const std::unordered_map<std::string, Fn> t = {
        {"operator.add", [](Call &c) { return arith(c, ADD); }},
        {"operator.iadd", [](Call &c) { return arith(c, ADD); }},
        {"operator.sub", [](Call &c) { return arith(c, SUB); }},
        {"operator.mul", [](Call &c) { return arith(c, MUL); }},
        {"operator.imul", [](Call &c) { return arith(c, MUL); }},
        {"operator.truediv", [](Call &c) { return arith(c, DIV); }},
        {"operator.floordiv", [](Call &c) { return arith(c, FLOORDIV); }},
        {"operator.mod", [](Call &c) { return arith(c, MOD); }},
        {"operator.pow", [](Call &c) { return arith(c, POW); }},
        {"operator.matmul", [](Call &c) { return arith(c, MATMUL); }},
        {"operator.neg", [](Call &c) { return V(at::neg(c.tensor(0))); }},
        {"operator.getitem", getitem},
        {"builtins.getattr",
         [](Call &c) {
             const V &a = c.need(0, nullptr), &n = c.need(1, nullptr);
             if (a.k == V::TENSOR && n.k == V::STR && n.s == "shape")
                 return V::ints(a.t.sizes());
             if (a.k == V::TENSOR && n.k == V::STR && n.s == "ndim")
                 return V::of_int(a.t.dim());
             c.fail("unsupported getattr");
         }},
        {"torch.add", [](Call &c) { return arith(c, ADD); }},
        {"torch.sub", [](Call &c) { return arith(c, SUB); }},
        {"torch.mul", [](Call &c) { return arith(c, MUL); }},
        {"torch.div", [](Call &c) { return arith(c, DIV); }},
        {"torch.matmul", [](Call &c) { return arith(c, MATMUL); }},
        {"torch.bmm", [](Call &c) { return V(at::bmm(c.tensor(0), c.tensor(1))); }},
        {"torch.cat",
         [](Call &c) { return V(at::cat(c.tensor_list(0, "tensors"), dim_arg(c, 1, "dim", 0))); }},
        {"torch.concat",
         [](Call &c) { return V(at::cat(c.tensor_list(0, "tensors"), dim_arg(c, 1, "dim", 0))); }},
        {"torch.stack",
         [](Call &c) {
             return V(at::stack(c.tensor_list(0, "tensors"), dim_arg(c, 1, "dim", 0)));
         }},
        {"torch.flatten",
         [](Call &c) {
             return V(
                 at::flatten(c.tensor(0, "input"), c.i(1, "start_dim", 0), c.i(2, "end_dim", -1)));
         }},
        {"torch.reshape",
         [](Call &c) { return V(at::reshape(c.tensor(0, "input"), c.varargs_ints(1, "shape"))); }},
        {"torch.transpose",
         [](Call &c) {
             return V(at::transpose(c.tensor(0, "input"), c.to_int(c.need(1, "dim0")),
                                    c.to_int(c.need(2, "dim1"))));
         }},
        {"torch.permute",
         [](Call &c) { return V(at::permute(c.tensor(0, "input"), c.varargs_ints(1, "dims"))); }},
        {"torch.unsqueeze",
         [](Call &c) {
             return V(at::unsqueeze(c.tensor(0, "input"), c.to_int(c.need(1, "dim"))));
         }},
        {"torch.squeeze",
         [](Call &c) {
             const V *d = c.get(1, "dim");
             auto x = c.tensor(0, "input");
             return V(d && d->k != V::NONE ? at::squeeze(x, c.to_int(*d)) : at::squeeze(x));
         }},
        {"torch.chunk", [](Call &c) { return chunk_split(c, true); }},
        {"torch.split", [](Call &c) { return chunk_split(c, false); }},
        {"torch.mean", [](Call &c) { return reduce(c, true); }},
        {"torch.sum", [](Call &c) { return reduce(c, false); }},
        {"torch.relu", unary(at::relu)},
        {"torch.sigmoid", unary(at::sigmoid)},
        {"torch.tanh", unary(at::tanh)},
        {"torch.exp", unary(at::exp)},
        {"torch.sqrt", unary(at::sqrt)},
        {"torch.abs", unary(at::abs)},
        {"torch.softmax", [](Call &c) { return softmax(c, false); }},
        {"torch.conv1d", [](Call &c) { return conv_fn(c, 1); }},
        {"torch.conv2d", [](Call &c) { return conv_fn(c, 2); }},
        {"torch.conv3d", [](Call &c) { return conv_fn(c, 3); }},
        {"torch.nn.functional.relu", unary(at::relu)},
        {"torch.nn.functional.relu6",
         [](Call &c) { return V(at::hardtanh(c.tensor(0, "input"), 0.0, 6.0)); }},
        {"torch.nn.functional.leaky_relu",
         [](Call &c) {
             return V(at::leaky_relu(c.tensor(0, "input"), c.f(1, "negative_slope", 0.01)));
         }},
        {"torch.nn.functional.hardtanh",
         [](Call &c) {
             return V(at::hardtanh(c.tensor(0, "input"), c.f(1, "min_val", -1.0),
                                   c.f(2, "max_val", 1.0)));
         }},
        {"torch.nn.functional.sigmoid", unary(at::sigmoid)},
        {"torch.nn.functional.tanh", unary(at::tanh)},
        {"torch.nn.functional.silu", unary(at::silu)},
        {"torch.nn.functional.hardswish", unary(at::hardswish)},
        {"torch.nn.functional.hardsigmoid", unary(at::hardsigmoid)},
        {"torch.nn.functional.gelu",
         [](Call &c) {
             const V *a = c.get(SIZE_MAX, "approximate");
             return V(at::gelu(c.tensor(0, "input"), a && a->k == V::STR ? a->s : "none"));
         }},
        {"torch.nn.functional.softmax", [](Call &c) { return softmax(c, false); }},
        {"torch.nn.functional.log_softmax", [](Call &c) { return softmax(c, true); }},
        {"torch.nn.functional.dropout", dropout},
        {"torch.nn.functional.adaptive_avg_pool1d", [](Call &c) { return adaptive_avg(c, 1); }},
        {"torch.nn.functional.adaptive_avg_pool2d", [](Call &c) { return adaptive_avg(c, 2); }},
        {"torch.nn.functional.adaptive_avg_pool3d", [](Call &c) { return adaptive_avg(c, 3); }},
        {"torch.nn.functional.adaptive_max_pool2d", [](Call &c) { return adaptive_max(c, 2); }},
        {"torch.nn.functional.max_pool1d", [](Call &c) { return max_pool(c, 1); }},
        {"torch.nn.functional.max_pool2d", [](Call &c) { return max_pool(c, 2); }},
        {"torch.nn.functional.max_pool3d", [](Call &c) { return max_pool(c, 3); }},
        {"torch.nn.functional.avg_pool1d", [](Call &c) { return avg_pool(c, 1); }},
        {"torch.nn.functional.avg_pool2d", [](Call &c) { return avg_pool(c, 2); }},
        {"torch.nn.functional.avg_pool3d", [](Call &c) { return avg_pool(c, 3); }},
        {"torch.nn.functional.interpolate",
         [](Call &c) {
             const V *al = c.get(4, "align_corners");
             c10::optional<bool> align;
             if (al && al->k != V::NONE)
                 align = c.to_int(*al) != 0;
             const V *m = c.get(3, "mode");
             return interpolate(c, c.tensor(0, "input"), c.get(1, "size"), c.get(2, "scale_factor"),
                                m && m->k == V::STR ? m->s : "nearest", align,
                                c.flag(5, "recompute_scale_factor", false));
         }},
        {"torch.nn.functional.linear",
         [](Call &c) {
             const V *b = c.get(2, "bias");
             c10::optional<torch::Tensor> bias;
             if (b && b->k == V::TENSOR)
                 bias = b->t;
             return V(at::linear(c.tensor(0, "input"), c.tensor(1, "weight"), bias));
         }},
    };
    return t;
}

const std::unordered_map<std::string, Fn> &
methods()
{
    static const std::unordered_map<std::string, Fn> t = {
        {"size", size_of},
        {"dim", [](Call &c) { return V::of_int(c.tensor(0).dim()); }},
        {"numel", [](Call &c) { return V::of_int(c.tensor(0).numel()); }},
        {"view", [](Call &c) { return V(c.tensor(0).view(c.varargs_ints(1, "size"))); }},
        {"reshape", [](Call &c) { return V(c.tensor(0).reshape(c.varargs_ints(1, "shape"))); }},
        {"permute", [](Call &c) { return V(c.tensor(0).permute(c.varargs_ints(1, "dims"))); }},
        {"expand", [](Call &c) { return V(c.tensor(0).expand(c.varargs_ints(1, "size"))); }},
        {"repeat", [](Call &c) { return V(c.tensor(0).repeat(c.varargs_ints(1, "repeats"))); }},
        {"flatten",
         [](Call &c) {
             return V(c.tensor(0).flatten(c.i(1, "start_dim", 0), c.i(2, "end_dim", -1)));
         }},
        {"transpose",
         [](Call &c) {
             return V(
                 c.tensor(0).transpose(c.to_int(c.need(1, "dim0")), c.to_int(c.need(2, "dim1"))));
         }},
        {"t", [](Call &c) { return V(c.tensor(0).t()); }},
        {"contiguous", [](Call &c) { return V(c.tensor(0).contiguous()); }},
        {"clone", [](Call &c) { return V(c.tensor(0).clone()); }},
        {"detach", [](Call &c) { return V(c.tensor(0).detach()); }},
        {"float", [](Call &c) { return V(c.tensor(0).to(at::kFloat)); }},
        {"unsqueeze", [](Call &c) { return V(c.tensor(0).unsqueeze(c.to_int(c.need(1, "dim")))); }},
        {"squeeze",
         [](Call &c) {
             const V *d = c.get(1, "dim");
             auto x = c.tensor(0);
             return V(d && d->k != V::NONE ? x.squeeze(c.to_int(*d)) : x.squeeze());
         }},
        {"mean", [](Call &c) { return reduce(c, true); }},
        {"sum", [](Call &c) { return reduce(c, false); }},
        {"chunk", [](Call &c) { return chunk_split(c, true); }},
        {"split", [](Call &c) { return chunk_split(c, false); }},
        {"softmax", [](Call &c) { return softmax(c, false); }},
        {"relu", unary(at::relu)},
        {"sigmoid", unary(at::sigmoid)},
        {"tanh", unary(at::tanh)},
        {"add", [](Call &c) { return arith(c, ADD); }},
        {"sub", [](Call &c) { return arith(c, SUB); }},
        {"mul", [](Call &c) { return arith(c, MUL); }},
        {"div", [](Call &c) { return arith(c, DIV); }},
        {"matmul", [](Call &c) { return arith(c, MATMUL); }},
    };
    return t;
}

/* ==== Modules ==== */

/* Attributes of a module of the graph. */
struct Attrs {
    qp_graph *g;
    qp_module m;
    std::string path, type;

    [[noreturn]] void
    fail(const std::string &msg) const
    {
        throw Error("module " + path + " (" + type + "): " + msg);
    }
    qp_val
    get(const char *k) const
    {
        return qp_module_attr(g, m, k);
    }
    bool
    has(const char *k) const
    {
        qp_val v = get(k);
        return !qp_val_is_null(v) && qp_val_kind_of(g, v) != QP_VAL_NONE;
    }
    int64_t
    i(const char *k, int64_t def) const
    {
        qp_val v = get(k);
        if (qp_val_is_null(v) || qp_val_kind_of(g, v) == QP_VAL_NONE)
            return def;
        if (qp_val_kind_of(g, v) == QP_VAL_TUPLE || qp_val_kind_of(g, v) == QP_VAL_LIST)
            v = qp_val_item_at(g, v, 0);
        if (qp_val_kind_of(g, v) != QP_VAL_INT && qp_val_kind_of(g, v) != QP_VAL_BOOL)
            fail(std::string("attribute ") + k + " is not an int");
        return qp_val_kind_of(g, v) == QP_VAL_BOOL ? qp_val_as_bool(g, v) : qp_val_as_int(g, v);
    }
    double
    f(const char *k, double def) const
    {
        qp_val v = get(k);
        if (qp_val_is_null(v) || qp_val_kind_of(g, v) == QP_VAL_NONE)
            return def;
        return qp_val_as_float(g, v);
    }
    c10::optional<double>
    opt_f(const char *k, double def) const
    {
        qp_val v = get(k);
        if (qp_val_is_null(v))
            return def;
        if (qp_val_kind_of(g, v) == QP_VAL_NONE)
            return c10::nullopt;
        return qp_val_as_float(g, v);
    }
    bool
    b(const char *k, bool def) const
    {
        qp_val v = get(k);
        if (qp_val_is_null(v) || qp_val_kind_of(g, v) != QP_VAL_BOOL)
            return def;
        return qp_val_as_bool(g, v);
    }
    std::string
    s(const char *k, const std::string &def) const
    {
        qp_val v = get(k);
        if (qp_val_is_null(v) || qp_val_kind_of(g, v) != QP_VAL_STR)
            return def;
        return qp_val_as_str(g, v, nullptr);
    }
    /* an int or a tuple of ints, expanded to n if one was given (n 0: as is) */
    std::vector<int64_t>
    ints(const char *k, std::vector<int64_t> def, size_t n = 0) const
    {
        qp_val v = get(k);
        std::vector<int64_t> out;
        if (qp_val_is_null(v) || qp_val_kind_of(g, v) == QP_VAL_NONE) {
            out = def;
        } else if (qp_val_kind_of(g, v) == QP_VAL_TUPLE || qp_val_kind_of(g, v) == QP_VAL_LIST) {
            for (uint32_t j = 0; j < qp_val_num_items(g, v); j++)
                out.push_back(qp_val_as_int(g, qp_val_item_at(g, v, j)));
        } else if (qp_val_kind_of(g, v) == QP_VAL_INT) {
            out.push_back(qp_val_as_int(g, v));
        } else {
            fail(std::string("attribute ") + k + " is not an int or a tuple of ints");
        }
        if (n && out.size() == 1)
            out.assign(n, out[0]);
        return out;
    }
    bool
    is_str(const char *k) const
    {
        qp_val v = get(k);
        return !qp_val_is_null(v) && qp_val_kind_of(g, v) == QP_VAL_STR;
    }
};

/* A module without parameters, run by a function. */
class FnModuleImpl : public torch::nn::Module
{
  public:
    explicit FnModuleImpl(const std::string &type) : torch::nn::Module(type)
    {
    }
};

/* torch.nn.BatchNorm{1,2,3}d (torch's _BatchNorm.forward). */
class BatchNormImpl : public torch::nn::Module
{
  public:
    explicit BatchNormImpl(const Attrs &a) : torch::nn::Module("BatchNorm")
    {
        int64_t nf = a.i("num_features", -1);
        if (nf < 0)
            a.fail("num_features missing");
        eps = a.f("eps", 1e-5);
        momentum = a.opt_f("momentum", 0.1);
        affine = a.b("affine", true);
        track = a.b("track_running_stats", true);
        if (affine) {
            weight = register_parameter("weight", torch::ones({nf}));
            bias = register_parameter("bias", torch::zeros({nf}));
        }
        if (track) {
            running_mean = register_buffer("running_mean", torch::zeros({nf}));
            running_var = register_buffer("running_var", torch::ones({nf}));
            num_batches_tracked =
                register_buffer("num_batches_tracked", torch::zeros({}, torch::kLong));
        }
    }
    torch::Tensor
    forward(const torch::Tensor &x)
    {
        double factor = momentum ? *momentum : 0.0;
        if (is_training() && track) {
            torch::NoGradGuard ng;
            num_batches_tracked.add_(1);
            if (!momentum)
                factor = 1.0 / (double)num_batches_tracked.item<int64_t>();
        }
        bool bn_training = is_training() || (!running_mean.defined() && !running_var.defined());
        bool use_stats = !is_training() || track;
        return at::batch_norm(x, weight, bias, use_stats ? running_mean : torch::Tensor(),
                              use_stats ? running_var : torch::Tensor(), bn_training, factor, eps,
                              true);
    }
    torch::Tensor weight, bias, running_mean, running_var, num_batches_tracked;
    double eps;
    c10::optional<double> momentum;
    bool affine, track;
};

struct ConvGeom {
    int dim = 2;
    bool transposed = false;
    std::vector<int64_t> stride, padding, dilation, output_padding;
    std::string padding_str; /* "same" / "valid" */
    std::string padding_mode = "zeros";
    int64_t groups = 1, in_channels = 0, out_channels = 0;
    std::vector<int64_t> kernel;

    ConvGeom(const Attrs &a, int d, bool tr) : dim(d), transposed(tr)
    {
        size_t n = (size_t)d;
        in_channels = a.i("in_channels", -1);
        out_channels = a.i("out_channels", -1);
        if (in_channels < 0 || out_channels < 0)
            a.fail("in_channels / out_channels missing");
        kernel = a.ints("kernel_size", {}, n);
        stride = a.ints("stride", {1}, n);
        if (a.is_str("padding"))
            padding_str = a.s("padding", "");
        else
            padding = a.ints("padding", {0}, n);
        dilation = a.ints("dilation", {1}, n);
        output_padding = a.ints("output_padding", {0}, n);
        groups = a.i("groups", 1);
        padding_mode = a.s("padding_mode", "zeros");
        if (kernel.size() != n)
            a.fail("kernel_size has the wrong length");
    }
    std::vector<int64_t>
    weight_shape() const
    {
        std::vector<int64_t> s;
        if (transposed)
            s = {in_channels, out_channels / groups};
        else
            s = {out_channels, in_channels / groups};
        s.insert(s.end(), kernel.begin(), kernel.end());
        return s;
    }
    /* torch's _ConvNd._conv_forward / ConvTransposeNd.forward (no output_size) */
    torch::Tensor
    run(torch::Tensor x, const torch::Tensor &w, const c10::optional<torch::Tensor> &b) const
    {
        if (transposed) {
            if (padding_mode != "zeros")
                throw Error("ConvTranspose supports padding_mode zeros only");
            if (dim == 1)
                return at::conv_transpose1d(x, w, b, stride, padding, output_padding, groups,
                                            dilation);
            if (dim == 2)
                return at::conv_transpose2d(x, w, b, stride, padding, output_padding, groups,
                                            dilation);
            return at::conv_transpose3d(x, w, b, stride, padding, output_padding, groups, dilation);
        }
        std::vector<int64_t> pad = padding;
        if (padding_mode != "zeros") {
            namespace F = torch::nn::functional;
            std::vector<int64_t> twice; /* _reversed_padding_repeated_twice */
            for (size_t j = padding.size(); j-- > 0;) {
                twice.push_back(padding[j]);
                twice.push_back(padding[j]);
            }
            F::PadFuncOptions o(twice);
            if (padding_mode == "reflect")
                o.mode(torch::kReflect);
            else if (padding_mode == "replicate")
                o.mode(torch::kReplicate);
            else if (padding_mode == "circular")
                o.mode(torch::kCircular);
            else
                throw Error("unsupported padding_mode " + padding_mode);
            x = F::pad(x, o);
            pad.assign(padding.size(), 0);
        }
        if (!padding_str.empty()) {
            if (dim == 1)
                return at::conv1d(x, w, b, stride, padding_str, dilation, groups);
            if (dim == 2)
                return at::conv2d(x, w, b, stride, padding_str, dilation, groups);
            return at::conv3d(x, w, b, stride, padding_str, dilation, groups);
        }
        if (dim == 1)
            return at::conv1d(x, w, b, stride, pad, dilation, groups);
        if (dim == 2)
            return at::conv2d(x, w, b, stride, pad, dilation, groups);
        return at::conv3d(x, w, b, stride, pad, dilation, groups);
    }
};

/* Initial weights: zeros (the state_dict gives the values). */
torch::Tensor
zeros_param(std::vector<int64_t> shape)
{
    return torch::zeros(shape);
}

/*
 * A convolution or linear layer, float or QAT: nn.Conv{1,2,3}d,
 * nn.ConvTranspose{1,2,3}d, nn.Linear; nnqat.Conv*, nniqat.ConvReLU*,
 * nniqat.ConvBn* / ConvBnReLU* (torch 1.13 _ConvBnNd._forward_approximate),
 * qnnqat.ConvTranspose2d, qnniqat.ConvTransposeBn(ReLU)2d (MQBench's),
 * nnqat.Linear, nniqat.LinearReLU, nniqat.LinearBn1d (torch's),
 * qnniqat.LinearBn1d (MQBench's). Parameters as torch names them: weight,
 * bias, bn.*, weight_fake_quant.*.
 */
class LayerImpl : public torch::nn::Module
{
  public:
    enum Style { TORCH, MQBENCH };
    LayerImpl(const std::string &type, bool linear, c10::optional<ConvGeom> geom, int64_t in_f,
              int64_t out_f, bool has_bias, bool relu, Style style)
        : torch::nn::Module(type), linear_(linear), geom_(std::move(geom)), relu_(relu),
          style_(style)
    {
        std::vector<int64_t> ws =
            linear ? std::vector<int64_t>{out_f, in_f} : geom_->weight_shape();
        out_ = linear ? out_f : geom_->out_channels;
        weight = register_parameter("weight", zeros_param(ws));
        if (has_bias)
            bias = register_parameter("bias", zeros_param({out_}));
    }
    void
    set_bn(std::shared_ptr<BatchNormImpl> bn, bool freeze)
    {
        bn_ = register_module("bn", bn);
        freeze_bn_ = freeze;
        if (freeze) /* MQBench's _convert: freeze_bn_stats() */
            bn_->train(false);
    }
    void
    set_fq(FakeQuant fq)
    {
        fq_ = register_module("weight_fake_quant", fq.ptr());
    }
    void
    train(bool on) override
    {
        /* torch's _ConvBnNd.train: a frozen BN keeps its mode */
        bool keep = bn_ && bn_->is_training();
        torch::nn::Module::train(on);
        if (bn_ && freeze_bn_)
            bn_->train(keep);
    }
    torch::Tensor
    quant_weight(const torch::Tensor &w)
    {
        return fq_ ? fq_->forward(w) : w;
    }
    torch::Tensor
    apply(const torch::Tensor &x, const torch::Tensor &w, const c10::optional<torch::Tensor> &b)
    {
        return linear_ ? at::linear(x, w, b) : geom_->run(x, w, b);
    }
    torch::Tensor
    forward(const torch::Tensor &x)
    {
        c10::optional<torch::Tensor> b;
        if (bias.defined())
            b = bias;
        torch::Tensor y;
        if (!bn_) {
            y = apply(x, quant_weight(weight), b);
        } else {
            auto running_std = at::sqrt(bn_->running_var + bn_->eps);
            auto scale_factor =
                bn_->weight.defined() ? bn_->weight / running_std : 1.0 / running_std;
            int64_t wd = weight.dim();
            std::vector<int64_t> wshape((size_t)wd, 1), bshape;
            wshape[geom_ && geom_->transposed ? 1 : 0] = -1;
            /* torch: len(weight.shape); MQBench's LinearBn1d: len(input.shape) */
            bshape.assign((size_t)(linear_ && style_ == MQBENCH ? x.dim() : wd), 1);
            bshape[1] = -1;
            auto scaled = quant_weight(weight * scale_factor.reshape(wshape));
            if (linear_ && style_ == MQBENCH) {
                y = at::linear(x, scaled, c10::nullopt);
            } else {
                auto zero_bias = torch::zeros({out_}, x.options());
                y = apply(x, scaled, zero_bias);
            }
            y = y / scale_factor.reshape(bshape);
            if (b)
                y = y + b->reshape(bshape);
            y = bn_->forward(y);
        }
        return relu_ ? at::relu(y) : y;
    }
    torch::Tensor weight, bias;

  private:
    bool linear_;
    c10::optional<ConvGeom> geom_;
    bool relu_;
    Style style_;
    int64_t out_ = 0;
    std::shared_ptr<BatchNormImpl> bn_;
    std::shared_ptr<FakeQuantImpl> fq_;
    bool freeze_bn_ = false;
};

/* nn.Embedding / qnnqat.Embedding (F.embedding on the fake-quantized weight). */
class EmbeddingImpl : public torch::nn::Module
{
  public:
    explicit EmbeddingImpl(const Attrs &a) : torch::nn::Module("Embedding")
    {
        int64_t n = a.i("num_embeddings", -1), d = a.i("embedding_dim", -1);
        if (n < 0 || d < 0)
            a.fail("num_embeddings / embedding_dim missing");
        padding_idx_ = a.has("padding_idx") ? a.i("padding_idx", -1) : -1;
        if (padding_idx_ < 0 && a.has("padding_idx"))
            padding_idx_ += n;
        if (a.has("max_norm"))
            a.fail("max_norm is not supported");
        scale_grad_ = a.b("scale_grad_by_freq", false);
        sparse_ = a.b("sparse", false);
        weight = register_parameter("weight", zeros_param({n, d}));
    }
    void
    set_fq(FakeQuant fq)
    {
        fq_ = register_module("weight_fake_quant", fq.ptr());
    }
    torch::Tensor
    forward(const torch::Tensor &idx)
    {
        auto w = fq_ ? fq_->forward(weight) : weight;
        return at::embedding(w, idx, padding_idx_, scale_grad_, sparse_);
    }
    torch::Tensor weight;

  private:
    int64_t padding_idx_;
    bool scale_grad_, sparse_;
    std::shared_ptr<FakeQuantImpl> fq_;
};

/* A built call_module target. */
struct Built {
    std::shared_ptr<torch::nn::Module> module;
    Fn call;
    bool owns_children = false; /* its table children (bn, fake-quantizers) are inside it */
};

struct Ctx {
    qp_graph *g;
    qp_quant_set *qs;
};

Fn
tensor_fn(std::function<torch::Tensor(const torch::Tensor &)> f)
{
    return [f](Call &c) { return V(f(c.tensor(0, "input"))); };
}

Built
fn_module(const Attrs &a, std::function<torch::Tensor(const torch::Tensor &)> f)
{
    return {std::make_shared<FnModuleImpl>(a.type), tensor_fn(std::move(f)), false};
}

FakeQuant
make_fq(const Ctx &ctx, const std::string &path, const Attrs &owner)
{
    if (!ctx.qs)
        owner.fail("a QAT module, but the model has no quantizers (build it with the "
                   "qp_quant_set of the prepared graph)");
    qp_quant *q = qp_quant_set_find(ctx.qs, path.c_str());
    if (!q)
        owner.fail("no quantizer " + path + " in the quantizer set");
    return FakeQuant(q, path);
}

Attrs
child_attrs(const Ctx &ctx, const Attrs &a, const char *suffix)
{
    std::string p = a.path + suffix;
    qp_module m = qp_graph_find_module(ctx.g, p.c_str());
    if (qp_module_is_null(m))
        a.fail(std::string("no submodule ") + p + " in the graph");
    return Attrs{ctx.g, m, p, qp_module_type(ctx.g, m)};
}

/* Conv / ConvTranspose / Linear in every flavour, from the type name. */
Built
make_layer(const Ctx &ctx, const Attrs &a)
{
    const std::string &t = a.type;
    auto has = [&](const char *s) { return t.find(s) != std::string::npos; };
    bool qat = t.rfind("nnqat.", 0) == 0 || t.rfind("nniqat.", 0) == 0 ||
               t.rfind("qnnqat.", 0) == 0 || t.rfind("qnniqat.", 0) == 0;
    bool mq = t.rfind("qnn", 0) == 0;
    bool linear = has("Linear");
    bool with_bn = has("Bn");
    bool relu = has("ReLU");
    if (has("Freezebn"))
        a.fail("MQBench's Freezebn modules are not supported");
    std::shared_ptr<LayerImpl> L;
    if (linear) {
        L = std::make_shared<LayerImpl>(t, true, c10::nullopt, a.i("in_features", -1),
                                        a.i("out_features", -1), a.b("bias", true), relu,
                                        mq ? LayerImpl::MQBENCH : LayerImpl::TORCH);
    } else {
        bool tr = has("ConvTranspose");
        int d = has("1d") ? 1 : has("3d") ? 3 : 2;
        L = std::make_shared<LayerImpl>(t, false, ConvGeom(a, d, tr), 0, 0, a.b("bias", true), relu,
                                        mq ? LayerImpl::MQBENCH : LayerImpl::TORCH);
    }
    if (with_bn) {
        Attrs bn = child_attrs(ctx, a, ".bn");
        L->set_bn(std::make_shared<BatchNormImpl>(bn), a.b("freeze_bn", false));
    }
    if (qat)
        L->set_fq(make_fq(ctx, a.path + ".weight_fake_quant", a));
    auto call = [L](Call &c) { return V(L->forward(c.tensor(0, "input"))); };
    return {L, call, qat};
}

Built make_module(const Ctx &ctx, const Attrs &a);

/* A float fused module (nni.ConvReLU2d, qnni.LinearBn1d, ...): a Sequential of
 * its children `.0`, `.1`, `.2`, as torch builds it. */
Built
make_sequential(const Ctx &ctx, const Attrs &a)
{
    auto seq = std::make_shared<FnModuleImpl>(a.type);
    std::vector<Fn> calls;
    for (int k = 0;; k++) {
        std::string p = a.path + "." + std::to_string(k);
        qp_module m = qp_graph_find_module(ctx.g, p.c_str());
        if (qp_module_is_null(m))
            break;
        Built b = make_module(ctx, Attrs{ctx.g, m, p, qp_module_type(ctx.g, m)});
        seq->register_module(std::to_string(k), b.module);
        calls.push_back(b.call);
    }
    if (calls.empty())
        a.fail("a fused module without submodules .0, .1, ...");
    auto call = [calls](Call &c) {
        V v = c.need(0, "input");
        for (const auto &f : calls) {
            Call c2{c.node, {v}, {}, c.training};
            v = f(c2);
        }
        return v;
    };
    return {seq, call, true};
}

Built
make_module(const Ctx &ctx, const Attrs &a)
{
    const std::string &t = a.type;
    if (t.rfind("nni.", 0) == 0 || t.rfind("qnni.", 0) == 0)
        return make_sequential(ctx, a);
    if (t.rfind("fq.", 0) == 0) {
        auto fq = make_fq(ctx, a.path, a).ptr();
        return {fq, [fq](Call &c) { return V(fq->forward(c.tensor(0, "input"))); }, true};
    }
    if (t == "nn.Conv1d" || t == "nn.Conv2d" || t == "nn.Conv3d" || t == "nn.ConvTranspose1d" ||
        t == "nn.ConvTranspose2d" || t == "nn.ConvTranspose3d" || t == "nn.Linear" ||
        t.rfind("nnqat.", 0) == 0 || t.rfind("nniqat.", 0) == 0 || t.rfind("qnnqat.Conv", 0) == 0 ||
        t.rfind("qnniqat.", 0) == 0 || t == "qnnqat.Linear") {
        if (t == "nnqat.Embedding" || t == "nnqat.EmbeddingBag")
            a.fail("unsupported module type");
        return make_layer(ctx, a);
    }
    if (t == "nn.BatchNorm1d" || t == "nn.BatchNorm2d" || t == "nn.BatchNorm3d") {
        auto bn = std::make_shared<BatchNormImpl>(a);
        return {bn, [bn](Call &c) { return V(bn->forward(c.tensor(0, "input"))); }, false};
    }
    if (t == "nn.Embedding" || t == "qnnqat.Embedding") {
        auto e = std::make_shared<EmbeddingImpl>(a);
        if (t == "qnnqat.Embedding")
            e->set_fq(make_fq(ctx, a.path + ".weight_fake_quant", a));
        return {e, [e](Call &c) { return V(e->forward(c.tensor(0, "input"))); },
                t == "qnnqat.Embedding"};
    }
    if (t == "nn.LayerNorm") {
        auto shape = a.ints("normalized_shape", {});
        auto m = torch::nn::LayerNorm(torch::nn::LayerNormOptions(shape)
                                          .eps(a.f("eps", 1e-5))
                                          .elementwise_affine(a.b("elementwise_affine", true)))
                     .ptr();
        return {m, [m](Call &c) { return V(m->forward(c.tensor(0, "input"))); }, false};
    }
    if (t == "nn.PReLU") {
        auto m = torch::nn::PReLU(torch::nn::PReLUOptions()
                                      .num_parameters(a.i("num_parameters", 1))
                                      .init(a.f("init", 0.25)))
                     .ptr();
        return {m, [m](Call &c) { return V(m->forward(c.tensor(0, "input"))); }, false};
    }
    if (t == "nn.ReLU")
        return fn_module(a, [](const torch::Tensor &x) { return at::relu(x); });
    if (t == "nn.ReLU6")
        return fn_module(a, [](const torch::Tensor &x) { return at::hardtanh(x, 0.0, 6.0); });
    if (t == "nn.Hardtanh") {
        double lo = a.f("min_val", -1.0), hi = a.f("max_val", 1.0);
        return fn_module(a, [lo, hi](const torch::Tensor &x) { return at::hardtanh(x, lo, hi); });
    }
    if (t == "nn.LeakyReLU") {
        double s = a.f("negative_slope", 0.01);
        return fn_module(a, [s](const torch::Tensor &x) { return at::leaky_relu(x, s); });
    }
    if (t == "nn.Hardswish")
        return fn_module(a, [](const torch::Tensor &x) { return at::hardswish(x); });
    if (t == "nn.Hardsigmoid")
        return fn_module(a, [](const torch::Tensor &x) { return at::hardsigmoid(x); });
    if (t == "nn.SiLU")
        return fn_module(a, [](const torch::Tensor &x) { return at::silu(x); });
    if (t == "nn.GELU") {
        std::string ap = a.s("approximate", "none");
        return fn_module(a, [ap](const torch::Tensor &x) { return at::gelu(x, ap); });
    }
    if (t == "nn.Sigmoid")
        return fn_module(a, [](const torch::Tensor &x) { return at::sigmoid(x); });
    if (t == "nn.Mish")
        return fn_module(a, [](const torch::Tensor &x) { return at::mish(x); });
    if (t == "nn.SELU")
        return fn_module(a, [](const torch::Tensor &x) { return at::selu(x); });
    if (t == "nn.ELU") {
        double al = a.f("alpha", 1.0);
        return fn_module(a, [al](const torch::Tensor &x) { return at::elu(x, al); });
    }
    if (t == "nn.Softplus") {
        double be = a.f("beta", 1.0), th = a.f("threshold", 20.0);
        return fn_module(a, [be, th](const torch::Tensor &x) { return at::softplus(x, be, th); });
    }
    if (t == "nn.Tanh")
        return fn_module(a, [](const torch::Tensor &x) { return at::tanh(x); });
    if (t == "nn.Identity")
        return fn_module(a, [](const torch::Tensor &x) { return x; });
    if (t == "nn.Softmax" || t == "nn.LogSoftmax") {
        bool log = t == "nn.LogSoftmax";
        if (!a.has("dim"))
            a.fail("Softmax without dim is not supported");
        int64_t d = a.i("dim", -1);
        return fn_module(a, [d, log](const torch::Tensor &x) {
            return log ? at::log_softmax(x, d) : at::softmax(x, d);
        });
    }
    if (t == "nn.Flatten") {
        int64_t s = a.i("start_dim", 1), e = a.i("end_dim", -1);
        return fn_module(a, [s, e](const torch::Tensor &x) { return at::flatten(x, s, e); });
    }
    if (t == "nn.Dropout" || t == "nn.Dropout1d" || t == "nn.Dropout2d" || t == "nn.Dropout3d") {
        double p = a.f("p", 0.5);
        bool feature = t != "nn.Dropout";
        auto m = std::make_shared<FnModuleImpl>(a.type);
        torch::nn::Module *mp = m.get();
        return {m,
                [p, feature, mp](Call &c) {
                    auto x = c.tensor(0, "input");
                    return V(feature ? at::feature_dropout(x, p, mp->is_training())
                                     : at::dropout(x, p, mp->is_training()));
                },
                false};
    }
    struct PoolSpec {
        const char *type;
        size_t n;
        bool max, adaptive;
    };
    static const PoolSpec pools[] = {
        {"nn.MaxPool1d", 1, true, false},         {"nn.MaxPool2d", 2, true, false},
        {"nn.MaxPool3d", 3, true, false},         {"nn.AvgPool1d", 1, false, false},
        {"nn.AvgPool2d", 2, false, false},        {"nn.AvgPool3d", 3, false, false},
        {"nn.AdaptiveAvgPool1d", 1, false, true}, {"nn.AdaptiveAvgPool2d", 2, false, true},
        {"nn.AdaptiveAvgPool3d", 3, false, true}, {"nn.AdaptiveMaxPool1d", 1, true, true},
        {"nn.AdaptiveMaxPool2d", 2, true, true},  {"nn.AdaptiveMaxPool3d", 3, true, true},
    };
    for (const auto &ps : pools) {
        if (t != ps.type)
            continue;
        /* the module's forward is the functional call with its attributes */
        std::vector<std::pair<std::string, V>> kw;
        auto put_ints = [&](const char *k) {
            qp_val v = a.get(k);
            if (qp_val_is_null(v))
                return;
            if (qp_val_kind_of(a.g, v) == QP_VAL_NONE) {
                kw.emplace_back(k, V());
                return;
            }
            std::vector<V> items;
            if (qp_val_kind_of(a.g, v) == QP_VAL_TUPLE || qp_val_kind_of(a.g, v) == QP_VAL_LIST) {
                for (uint32_t j = 0; j < qp_val_num_items(a.g, v); j++) {
                    qp_val it = qp_val_item_at(a.g, v, j);
                    items.push_back(qp_val_kind_of(a.g, it) == QP_VAL_NONE
                                        ? V()
                                        : V::of_int(qp_val_as_int(a.g, it)));
                }
                kw.emplace_back(k, V::seq(items));
            } else {
                kw.emplace_back(k, V::of_int(qp_val_as_int(a.g, v)));
            }
        };
        auto put_bool = [&](const char *k) {
            qp_val v = a.get(k);
            if (!qp_val_is_null(v) && qp_val_kind_of(a.g, v) == QP_VAL_BOOL)
                kw.emplace_back(k, V::of_bool(qp_val_as_bool(a.g, v)));
        };
        if (ps.adaptive) {
            put_ints("output_size");
        } else {
            for (const char *k : {"kernel_size", "stride", "padding", "dilation"})
                put_ints(k);
            for (const char *k : {"ceil_mode", "count_include_pad", "return_indices"})
                put_bool(k);
            if (ps.max && a.b("return_indices", false))
                a.fail("return_indices is not supported");
        }
        PoolSpec p = ps;
        return {std::make_shared<FnModuleImpl>(a.type),
                [p, kw](Call &c) {
                    Call c2{c.node, {c.need(0, "input")}, kw, c.training};
                    if (p.adaptive)
                        return p.max ? adaptive_max(c2, p.n) : adaptive_avg(c2, p.n);
                    return p.max ? max_pool(c2, p.n) : avg_pool(c2, p.n);
                },
                false};
    }
    if (t == "nn.Upsample" || t == "nn.UpsamplingNearest2d" || t == "nn.UpsamplingBilinear2d") {
        std::string mode = t == "nn.UpsamplingBilinear2d" ? "bilinear" : a.s("mode", "nearest");
        c10::optional<bool> align;
        if (t == "nn.UpsamplingBilinear2d")
            align = true;
        else if (a.has("align_corners"))
            align = a.b("align_corners", false);
        V size, scale;
        if (a.has("size")) {
            auto s = a.ints("size", {});
            size = V::ints(s);
        }
        if (a.has("scale_factor")) {
            qp_val v = a.get("scale_factor");
            if (qp_val_kind_of(a.g, v) == QP_VAL_TUPLE) {
                std::vector<V> xs;
                for (uint32_t j = 0; j < qp_val_num_items(a.g, v); j++)
                    xs.push_back(V::of_float(qp_val_as_float(a.g, qp_val_item_at(a.g, v, j))));
                scale = V::seq(xs);
            } else {
                scale = V::of_float(qp_val_as_float(a.g, v));
            }
        }
        return {std::make_shared<FnModuleImpl>(a.type),
                [size, scale, mode, align](Call &c) {
                    return interpolate(c, c.tensor(0, "input"), &size, &scale, mode, align);
                },
                false};
    }
    throw Error("unsupported module type " + t);
}

} // namespace

/* ==== The graph module ==== */

struct GraphModuleImpl::Impl {
    struct Step {
        qp_node node;
        qp_op op;
        std::string name;
        Fn fn;               /* call_* */
        std::string target;  /* placeholder / get_attr */
        qp_val args, kwargs; /* evaluated each run */
    };
    std::vector<Step> steps;
    std::unordered_map<uint32_t, size_t> slot; /* node id -> step */
    std::map<std::string, std::shared_ptr<torch::nn::Module>> at_path;
    std::vector<std::shared_ptr<FakeQuantImpl>> fqs;
    std::map<std::string, torch::Tensor> attrs; /* get_attr targets */
    qp_graph *g = nullptr;

    V
    eval(qp_val v, const std::vector<V> &env, const std::string &node) const
    {
        switch (qp_val_kind_of(g, v)) {
        case QP_VAL_NONE:
            return V();
        case QP_VAL_BOOL:
            return V::of_bool(qp_val_as_bool(g, v));
        case QP_VAL_INT:
            return V::of_int(qp_val_as_int(g, v));
        case QP_VAL_FLOAT:
            return V::of_float(qp_val_as_float(g, v));
        case QP_VAL_STR:
        case QP_VAL_IDENT: {
            V r;
            r.k = qp_val_kind_of(g, v) == QP_VAL_STR ? V::STR : V::IDENT;
            size_t len = 0;
            const char *s = qp_val_as_str(g, v, &len);
            r.s.assign(s, len);
            return r;
        }
        case QP_VAL_NODE: {
            auto it = slot.find(qp_val_as_node(g, v).id);
            if (it == slot.end())
                throw Error("node " + node + ": argument refers to an unknown node");
            return env[it->second];
        }
        case QP_VAL_TUPLE:
        case QP_VAL_LIST: {
            V r;
            r.k = V::SEQ;
            for (uint32_t j = 0; j < qp_val_num_items(g, v); j++)
                r.items.push_back(eval(qp_val_item_at(g, v, j), env, node));
            return r;
        }
        case QP_VAL_DICT: {
            V r;
            r.k = V::DICT;
            for (uint32_t j = 0; j < qp_val_num_items(g, v); j++) {
                r.keys.emplace_back(qp_val_key_at(g, v, j));
                r.items.push_back(eval(qp_val_item_at(g, v, j), env, node));
            }
            return r;
        }
        case QP_VAL_CALL: {
            std::string fn = qp_val_as_str(g, v, nullptr);
            if (fn == "slice" && qp_val_num_items(g, v) == 3) {
                V r;
                r.k = V::SLICE;
                for (uint32_t j = 0; j < 3; j++)
                    r.items.push_back(eval(qp_val_item_at(g, v, j), env, node));
                return r;
            }
            throw Error("node " + node + ": unsupported value " + fn + "(...)");
        }
        default:
            throw Error("node " + node + ": unsupported argument kind");
        }
    }
};

namespace
{

void
flatten_out(const V &v, std::vector<torch::Tensor> &out)
{
    if (v.k == V::TENSOR)
        out.push_back(v.t);
    else if (v.k == V::SEQ || v.k == V::DICT)
        for (const auto &x : v.items)
            flatten_out(x, out);
}

std::vector<std::string>
split_path(const std::string &p)
{
    std::vector<std::string> out;
    size_t s = 0;
    for (;;) {
        size_t d = p.find('.', s);
        out.push_back(p.substr(s, d == std::string::npos ? std::string::npos : d - s));
        if (d == std::string::npos)
            break;
        s = d + 1;
    }
    return out;
}

} // namespace

GraphModuleImpl::GraphModuleImpl(GraphPtr graph, QuantSetPtr quant)
    : torch::nn::Module("GraphModule"), graph_(std::move(graph)), quant_(std::move(quant)),
      impl_(new Impl)
{
    qp_graph *g = graph_.get();
    Impl &I = *impl_;
    I.g = g;
    Ctx ctx{g, quant_.get()};
    /* the modules nodes call, in module-table order (GraphModule's state_dict order) */
    std::map<std::string, std::string> first_caller;
    for (qp_node n = qp_graph_first(g); !qp_node_is_null(n); n = qp_node_next(g, n))
        if (qp_node_op(g, n) == QP_OP_CALL_MODULE)
            first_caller.emplace(qp_node_target(g, n), qp_node_name(g, n));
    std::map<std::string, Built> built;
    std::vector<std::string> owners; /* paths whose table children they hold */
    for (qp_module m = qp_graph_first_module(g); !qp_module_is_null(m); m = qp_module_next(g, m)) {
        std::string path = qp_module_path(g, m);
        auto caller = first_caller.find(path);
        if (caller == first_caller.end())
            continue;
        for (const auto &o : owners)
            if (path.compare(0, o.size() + 1, o + ".") == 0)
                throw Error("node " + caller->second + ": calls " + path + ", a part of " + o);
        Attrs a{g, m, path, qp_module_type(g, m)};
        Built b;
        try {
            b = make_module(ctx, a);
        } catch (const Error &e) {
            throw Error("node " + caller->second + ": call_module " + path + ": " + e.what());
        }
        if (b.owns_children)
            owners.push_back(path);
        /* register under its dotted path, making containers as needed */
        auto parts = split_path(path);
        torch::nn::Module *parent = this;
        std::string prefix;
        for (size_t j = 0; j + 1 < parts.size(); j++) {
            prefix += (j ? "." : "") + parts[j];
            auto it = I.at_path.find(prefix);
            if (it == I.at_path.end()) {
                auto c = std::make_shared<torch::nn::Module>("Module");
                parent->register_module(parts[j], c);
                it = I.at_path.emplace(prefix, c).first;
            }
            parent = it->second.get();
        }
        parent->register_module(parts.back(), b.module);
        I.at_path[path] = b.module;
        built.emplace(path, std::move(b));
    }
    /* fake-quantizers, to load their state by name */
    for (const auto &m : modules(/*include_self=*/false))
        if (auto fq = std::dynamic_pointer_cast<FakeQuantImpl>(m))
            I.fqs.push_back(fq);
    /* get_attr targets: a tensor of the module tree if one has that name, else a
     * parameter of the attr line's shape at that path (a load with an integer
     * tensor makes it a buffer-like constant) */
    auto existing = named_parameters();
    auto existing_b = named_buffers();
    auto get_attr_tensor = [&](const std::string &target, const std::string &node) {
        if (auto *p = existing.find(target))
            return *p;
        if (auto *b = existing_b.find(target))
            return *b;
        std::vector<int64_t> shape;
        for (uint32_t k = 0; k < qp_graph_num_params(g); k++) {
            if (target != qp_graph_param_name(g, k))
                continue;
            qp_val sv = qp_val_dict_get(g, qp_graph_param_attrs(g, k), "shape");
            for (uint32_t j = 0; j < qp_val_num_items(g, sv); j++)
                shape.push_back(qp_val_as_int(g, qp_val_item_at(g, sv, j)));
        }
        auto parts = split_path(target);
        torch::nn::Module *parent = this;
        std::string prefix;
        for (size_t j = 0; j + 1 < parts.size(); j++) {
            prefix += (j ? "." : "") + parts[j];
            auto it = I.at_path.find(prefix);
            if (it == I.at_path.end()) {
                auto c = std::make_shared<torch::nn::Module>("Module");
                parent->register_module(parts[j], c);
                it = I.at_path.emplace(prefix, c).first;
            }
            parent = it->second.get();
        }
        try {
            return parent->register_parameter(parts.back(), torch::zeros(shape));
        } catch (const std::exception &e) {
            throw Error("node " + node + ": get_attr " + target + ": " + e.what());
        }
    };
    /* the steps */
    for (qp_node n = qp_graph_first(g); !qp_node_is_null(n); n = qp_node_next(g, n)) {
        Impl::Step s;
        s.node = n;
        s.op = qp_node_op(g, n);
        s.name = qp_node_name(g, n);
        s.target = qp_node_target(g, n);
        s.args = qp_node_args(g, n);
        s.kwargs = qp_node_kwargs(g, n);
        switch (s.op) {
        case QP_OP_CALL_MODULE:
            s.fn = built.at(s.target).call;
            break;
        case QP_OP_CALL_FUNCTION: {
            auto it = functions().find(s.target);
            if (it == functions().end())
                throw Error("node " + s.name + ": unsupported function " + s.target);
            s.fn = it->second;
            break;
        }
        case QP_OP_CALL_METHOD: {
            auto it = methods().find(s.target);
            if (it == methods().end())
                throw Error("node " + s.name + ": unsupported method " + s.target);
            s.fn = it->second;
            break;
        }
        case QP_OP_GET_ATTR:
            if (!I.attrs.count(s.target))
                I.attrs.emplace(s.target, get_attr_tensor(s.target, s.name));
            break;
        default:
            break;
        }
        I.slot[n.id] = I.steps.size();
        I.steps.push_back(std::move(s));
    }
}

GraphModuleImpl::~GraphModuleImpl() = default;

std::vector<torch::Tensor>
GraphModuleImpl::run(const std::vector<torch::Tensor> &inputs)
{
    Impl &I = *impl_;
    std::vector<V> env(I.steps.size());
    size_t next_input = 0;
    std::vector<torch::Tensor> out;
    for (size_t k = 0; k < I.steps.size(); k++) {
        const auto &s = I.steps[k];
        switch (s.op) {
        case QP_OP_PLACEHOLDER:
            if (next_input < inputs.size()) {
                env[k] = V(inputs[next_input++]);
            } else {
                V d = I.eval(s.args, env, s.name);
                if (d.k != V::SEQ || d.items.empty())
                    throw Error("node " + s.name + ": no input given for placeholder " + s.target);
                env[k] = d.items[0];
            }
            break;
        case QP_OP_GET_ATTR: {
            env[k] = V(I.attrs.at(s.target));
            break;
        }
        case QP_OP_CALL_MODULE:
        case QP_OP_CALL_FUNCTION:
        case QP_OP_CALL_METHOD: {
            Call c{&s.name, {}, {}, is_training()};
            V a = I.eval(s.args, env, s.name);
            c.args = std::move(a.items);
            V kw = I.eval(s.kwargs, env, s.name);
            for (size_t j = 0; j < kw.keys.size(); j++)
                c.kwargs.emplace_back(kw.keys[j], std::move(kw.items[j]));
            try {
                env[k] = s.fn(c);
            } catch (const Error &) {
                throw;
            } catch (const std::exception &e) {
                throw Error("node " + s.name + " (" + qp_op_name(s.op) + " " + s.target +
                            "): " + e.what());
            }
            break;
        }
        case QP_OP_OUTPUT: {
            V a = I.eval(s.args, env, s.name);
            for (const auto &x : a.items)
                flatten_out(x, out);
            return out;
        }
        default:
            throw Error("node " + s.name + ": unsupported op");
        }
    }
    throw Error("the graph has no output node");
}

torch::Tensor
GraphModuleImpl::forward(const torch::Tensor &x)
{
    auto out = run({x});
    if (out.empty())
        throw Error("the graph's output holds no tensor");
    return out[0];
}

namespace
{

void
walk_state(const torch::nn::Module &m, const std::string &prefix, StateDict &out)
{
    if (auto *fq = dynamic_cast<const FakeQuantImpl *>(&m)) {
        fq->append_state(prefix, out);
        return;
    }
    for (const auto &p : m.named_parameters(false))
        out.emplace_back(prefix + p.key(), p.value());
    for (const auto &b : m.named_buffers(false))
        out.emplace_back(prefix + b.key(), b.value());
    for (const auto &c : m.named_children())
        walk_state(*c.value(), prefix + c.key() + ".", out);
}

} // namespace

StateDict
GraphModuleImpl::state_dict() const
{
    StateDict out;
    walk_state(*this, "", out);
    return out;
}

size_t
GraphModuleImpl::load_state_dict(const StateDict &sd, bool strict)
{
    Impl &I = *impl_;
    std::map<std::string, const torch::Tensor *> in;
    for (const auto &kv : sd)
        in[kv.first] = &kv.second;
    /* what the model has: its own tensors, and the quantizers' entries */
    StateDict mine;
    walk_state(*this, "", mine);
    std::map<std::string, FakeQuantImpl *> fq_of; /* full key -> quantizer */
    for (const auto &fq : I.fqs) {
        StateDict tmp;
        fq->append_state(fq->path() + ".", tmp);
        for (const auto &kv : tmp)
            fq_of[kv.first] = fq.get();
    }
    std::vector<std::string> missing, unexpected;
    std::map<std::string, bool> known;
    for (const auto &kv : mine) {
        known[kv.first] = true;
        if (!in.count(kv.first))
            missing.push_back(kv.first);
    }
    for (const auto &kv : in)
        if (!known.count(kv.first))
            unexpected.push_back(kv.first);
    if (strict && (!missing.empty() || !unexpected.empty())) {
        std::string msg = "load_state_dict:";
        if (!missing.empty())
            msg += " missing " + std::to_string(missing.size()) + " key(s), first " + missing[0];
        if (!unexpected.empty())
            msg += " unexpected " + std::to_string(unexpected.size()) + " key(s), first " +
                   unexpected[0];
        throw Error(msg);
    }
    size_t n = 0;
    torch::NoGradGuard ng;
    for (auto &kv : mine) {
        auto it = in.find(kv.first);
        if (it == in.end())
            continue;
        auto f = fq_of.find(kv.first);
        if (f != fq_of.end()) {
            if (!f->second->load_entry(kv.first.substr(f->second->path().size() + 1), *it->second))
                throw Error("load_state_dict: " + kv.first + ": no such quantizer entry");
        } else if (I.attrs.count(kv.first) && !it->second->is_floating_point()) {
            /* an integer get_attr tensor (position ids): a constant */
            kv.second.set_requires_grad(false);
            kv.second.set_data(it->second->detach().clone());
        } else if (kv.second.sizes() != it->second->sizes()) {
            throw Error("load_state_dict: " + kv.first + ": shape " +
                        c10::str(it->second->sizes()) + " where the model has " +
                        c10::str(kv.second.sizes()));
        } else {
            kv.second.copy_(*it->second);
        }
        n++;
    }
    return n;
}

void
GraphModuleImpl::enable_calibration()
{
    if (quant_)
        qp_quant_set_enable_calibration(quant_.get());
}

void
GraphModuleImpl::enable_quantization()
{
    if (quant_)
        qp_quant_set_enable_quantization(quant_.get(), false, false);
}

void
GraphModuleImpl::disable_all()
{
    if (quant_)
        qp_quant_set_disable_all(quant_.get());
}

} // namespace qptorch
