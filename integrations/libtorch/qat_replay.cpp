/*
 * qat_replay.cpp - qprep_torch_qat: replays MQBench's end-to-end QAT protocol
 * (the .qat.md beside each fixture) in LibTorch on a graph qprep prepares, and compares
 * every number with the fixture MQBench wrote.
 *
 *   qprep_torch_qat --graph IN.qg --backend NAME --fixture FILE.qat.pt
 *                   [--config FILE.qcfg] [--lr 0.01] [--verbose]
 *
 * Prints one line per check (what, max abs error, max relative error, how
 * many tensors are bit for bit equal) and `N/M checks match`; exits 0 when all
 * match, 1 when one does not, 2 on a usage or input error.
 */
#include "qprep_torch.h"

#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <map>

using qptorch::Error;
using qptorch::StateDict;

namespace
{

struct Result {
    bool ok = true, bitwise = true;
    double abs = 0, rel = 0;
    std::string why;
};

/* integers equal; floats within 1e-4 * |expected| + 1e-6 * max|expected| */
Result
compare(const torch::Tensor &got_in, const torch::Tensor &exp_in)
{
    Result r;
    auto got = got_in.detach().cpu();
    auto exp = exp_in.detach().cpu();
    if (got.scalar_type() != exp.scalar_type()) {
        r.ok = r.bitwise = false;
        r.why = std::string("dtype ") + c10::toString(got.scalar_type()) + ", expected " +
                c10::toString(exp.scalar_type());
        return r;
    }
    if (got.sizes() != exp.sizes()) {
        r.ok = r.bitwise = false;
        r.why = "shape " + c10::str(got.sizes()) + ", expected " + c10::str(exp.sizes());
        return r;
    }
    if (exp.numel() == 0)
        return r;
    if (got.is_floating_point()) { /* by bits: -0.0 is not 0.0 */
        auto bits = got.element_size() == 8   ? at::kLong
                    : got.element_size() == 4 ? at::kInt
                                              : at::kShort;
        r.bitwise = at::equal(got.contiguous().view(bits), exp.contiguous().view(bits));
    } else {
        r.bitwise = at::equal(got, exp);
    }
    if (!got.is_floating_point()) {
        r.ok = r.bitwise;
        if (!r.ok) {
            auto d = (got.to(at::kDouble) - exp.to(at::kDouble)).abs();
            r.abs = d.max().item<double>();
            r.why = std::to_string(d.ne(0).sum().item<int64_t>()) + " element(s) differ";
        }
        return r;
    }
    auto g = got.to(at::kDouble), e = exp.to(at::kDouble);
    auto d = (g - e).abs();
    auto ae = e.abs();
    double maxe = ae.max().item<double>();
    /* NaN must be matched by NaN */
    auto nan_mismatch = g.isnan().ne(e.isnan()).any().item<bool>();
    d = at::where(g.isnan() & e.isnan(), at::zeros_like(d), d);
    r.abs = d.max().item<double>();
    auto nz = ae.gt(0);
    r.rel = nz.any().item<bool>()
                ? (d.masked_select(nz) / ae.masked_select(nz)).max().item<double>()
                : 0.0;
    auto tol = ae * 1e-4 + 1e-6 * maxe;
    auto bad = d.gt(tol);
    int64_t nbad = bad.sum().item<int64_t>();
    r.ok = nbad == 0 && !nan_mismatch;
    if (!r.ok)
        r.why = std::to_string(nbad) + " of " + std::to_string(e.numel()) +
                " element(s) out of tolerance" + (nan_mismatch ? ", NaN where not expected" : "");
    return r;
}

struct Checker {
    int checks = 0, matched = 0;
    int tensors = 0, tensors_bitwise = 0;
    bool verbose = false;

    void
    line(const std::string &what, bool ok, double abs, double rel, const std::string &extra)
    {
        checks++;
        matched += ok;
        std::printf("%-5s %-28s max abs err %.3e  max rel err %.3e  %s\n", ok ? "ok" : "FAIL",
                    what.c_str(), abs, rel, extra.c_str());
        std::fflush(stdout);
    }
    void
    tensor(const std::string &what, const torch::Tensor &got, const torch::Tensor &exp)
    {
        Result r = compare(got, exp);
        tensors++;
        tensors_bitwise += r.bitwise && r.ok;
        line(what, r.ok, r.abs, r.rel, r.bitwise ? "bit for bit" : r.why);
    }
    /* a dict: every expected key present and matching, no key unexpected */
    void
    dict(const std::string &what, const StateDict &got, const StateDict &exp)
    {
        std::map<std::string, const torch::Tensor *> g;
        for (const auto &kv : got)
            g[kv.first] = &kv.second;
        double abs = 0, rel = 0;
        int n = 0, nok = 0, nbit = 0, shown = 0;
        std::string first_bad;
        std::map<std::string, bool> seen;
        for (const auto &kv : exp) {
            n++;
            seen[kv.first] = true;
            auto it = g.find(kv.first);
            Result r;
            if (it == g.end()) {
                r.ok = r.bitwise = false;
                r.why = "missing";
            } else {
                r = compare(*it->second, kv.second);
            }
            abs = std::max(abs, r.abs);
            rel = std::max(rel, r.rel);
            nok += r.ok;
            nbit += r.ok && r.bitwise;
            if ((!r.ok && shown < 20) || verbose) {
                std::printf("      %-5s %s: max abs err %.3e  max rel err %.3e  %s\n",
                            r.ok ? "ok" : "FAIL", kv.first.c_str(), r.abs, r.rel,
                            r.ok ? (r.bitwise ? "bit for bit" : "") : r.why.c_str());
                shown += !r.ok;
            }
            if (!r.ok && first_bad.empty())
                first_bad = kv.first;
        }
        int extra = 0;
        for (const auto &kv : got)
            if (!seen.count(kv.first)) {
                if (extra < 20)
                    std::printf("      FAIL  %s: not in the expected dict\n", kv.first.c_str());
                extra++;
            }
        tensors += n;
        tensors_bitwise += nbit;
        std::string info = std::to_string(nok) + "/" + std::to_string(n) + " tensors match, " +
                           std::to_string(nbit) + " bit for bit";
        if (extra)
            info += ", " + std::to_string(extra) + " unexpected";
        if (!first_bad.empty())
            info += " (first failing: " + first_bad + ")";
        line(what, nok == n && extra == 0, abs, rel, info);
    }
};

const c10::IValue &
key(const c10::impl::GenericDict &d, const char *k)
{
    auto it = d.find(c10::IValue(std::string(k)));
    if (it == d.end())
        throw Error(std::string("the fixture has no key ") + k);
    return it->value();
}

int
usage()
{
    std::fprintf(stderr, "usage: qprep_torch_qat --graph IN.qg --backend NAME --fixture "
                         "FILE.qat.pt [--config FILE.qcfg] [--lr LR] [--verbose]\n");
    return 2;
}

int
run(int argc, char **argv)
{
    std::string graph_path, backend, fixture, config;
    double lr = 0.01;
    bool verbose = false;
    for (int i = 1; i < argc; i++) {
        std::string a = argv[i];
        auto val = [&]() -> std::string {
            if (i + 1 >= argc)
                throw Error(a + " needs a value");
            return argv[++i];
        };
        if (a == "--graph")
            graph_path = val();
        else if (a == "--backend")
            backend = val();
        else if (a == "--fixture")
            fixture = val();
        else if (a == "--config")
            config = val();
        else if (a == "--lr")
            lr = std::stod(val());
        else if (a == "--verbose")
            verbose = true;
        else
            return usage();
    }
    if (graph_path.empty() || backend.empty() || fixture.empty())
        return usage();
    /* the fixture was made with torch.set_num_threads(1) */
    torch::set_num_threads(1);
    qp_backend be;
    if (qp_backend_from_name(backend.c_str(), &be))
        throw Error("unknown backend " + backend);
    std::shared_ptr<qp_config> cfg;
    if (!config.empty()) {
        FILE *f = std::fopen(config.c_str(), "rb");
        if (!f)
            throw Error(config + ": cannot open");
        qp_config *c = nullptr;
        qp_error err{};
        qp_status st = qp_config_read_file(f, nullptr, &c, &err);
        std::fclose(f);
        if (st)
            throw Error(config + ":" + std::to_string(err.line) + ":" + std::to_string(err.col) +
                        ": " + err.msg);
        cfg.reset(c, qp_config_destroy);
    }

    auto fx_val = qptorch::load_pickle(fixture);
    if (!fx_val.isGenericDict())
        throw Error(fixture + ": not a dict");
    auto fx = fx_val.toGenericDict();
    auto float_state = qptorch::to_state_dict(key(fx, "float_state"), "float_state");

    auto float_graph = qptorch::read_graph(graph_path);
    auto prep = qptorch::prepare_qat(float_graph.get(), be, cfg.get());
    qptorch::GraphModule model(prep.graph, prep.quant);
    model->train();
    auto mapped = qptorch::map_float_state(float_state, prep.origins);
    size_t loaded = model->load_state_dict(mapped, false);
    size_t nparams = 0, nel = 0;
    for (const auto &p : model->parameters()) {
        nparams++;
        nel += (size_t)p.numel();
    }
    std::printf("qprep_torch_qat: %s on %s: %u quantizers, %zu parameters (%zu elements), "
                "%zu of %zu float tensors loaded\n",
                graph_path.c_str(), qp_backend_name(be), qp_quant_set_size(prep.quant.get()),
                nparams, nel, loaded, float_state.size());

    Checker ck;
    ck.verbose = verbose;

    /* 4. calibration */
    model->enable_calibration();
    {
        torch::NoGradGuard ng;
        auto calib = key(fx, "calib").toList();
        auto calib_logits = key(fx, "calib_logits").toList();
        if (calib.size() != calib_logits.size())
            throw Error("calib and calib_logits differ in length");
        for (size_t i = 0; i < calib.size(); i++) {
            auto out = model->forward(calib.get(i).toTensor());
            ck.tensor("calib_logits[" + std::to_string(i) + "]", out,
                      calib_logits.get(i).toTensor());
        }
    }
    ck.dict("state_after_calib", model->state_dict(),
            qptorch::to_state_dict(key(fx, "state_after_calib"), "state_after_calib"));

    /* 5. QAT forward, loss, backward */
    model->enable_quantization();
    auto logits = model->forward(key(fx, "train_x").toTensor());
    ck.tensor("qat_logits", logits, key(fx, "qat_logits").toTensor());
    auto loss = torch::nn::functional::cross_entropy(logits, key(fx, "train_y").toTensor());
    ck.tensor("qat_loss", loss, key(fx, "qat_loss").toTensor());
    loss.backward();
    StateDict grads;
    for (const auto &p : model->named_parameters())
        if (p.value().grad().defined())
            grads.emplace_back(p.key(), p.value().grad());
    ck.dict("qat_grads", grads, qptorch::to_state_dict(key(fx, "qat_grads"), "qat_grads"));

    /* 6. one SGD step: p.add_(grad, alpha=-lr) where the grad is not None */
    {
        torch::NoGradGuard ng;
        for (auto &p : model->parameters())
            if (p.grad().defined())
                p.add_(p.grad(), -lr);
    }

    /* 7. train-mode forward after the step */
    {
        torch::NoGradGuard ng;
        auto out = model->forward(key(fx, "eval_x").toTensor());
        ck.tensor("step_logits", out, key(fx, "step_logits").toTensor());
    }
    ck.dict("state_after_step", model->state_dict(),
            qptorch::to_state_dict(key(fx, "state_after_step"), "state_after_step"));

    /* 8. eval mode */
    model->eval();
    {
        torch::NoGradGuard ng;
        auto out = model->forward(key(fx, "eval_x").toTensor());
        ck.tensor("eval_logits", out, key(fx, "eval_logits").toTensor());
    }
    std::printf("%d/%d tensors bit for bit\n", ck.tensors_bitwise, ck.tensors);
    std::printf("%d/%d checks match\n", ck.matched, ck.checks);
    return ck.matched == ck.checks ? 0 : 1;
}

} // namespace

int
main(int argc, char **argv)
{
    try {
        return run(argc, argv);
    } catch (const std::exception &e) {
        std::fprintf(stderr, "qprep_torch_qat: %s\n", e.what());
        return 2;
    }
}
