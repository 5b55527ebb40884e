/*
 * prepare.cpp - reading graphs and torch.save files, preparing a graph with
 * qprep while recording which float module each prepared module comes from,
 * and renaming a float state_dict by those origins.
 */
#include "qprep_torch.h"

#include <cstdio>
#include <fstream>
#include <iterator>
#include <map>

namespace qptorch
{

GraphPtr
read_graph(const std::string &path)
{
    FILE *f = std::fopen(path.c_str(), "rb");
    if (!f)
        throw Error(path + ": cannot open");
    qp_graph *g = nullptr;
    qp_error err{};
    qp_status st = qp_graph_read_file(f, nullptr, &g, &err);
    std::fclose(f);
    if (st)
        throw Error(path + ":" + std::to_string(err.line) + ":" + std::to_string(err.col) + ": " +
                    err.msg);
    return GraphPtr(g, qp_graph_destroy);
}

c10::IValue
load_pickle(const std::string &path)
{
    std::ifstream in(path, std::ios::binary);
    if (!in)
        throw Error(path + ": cannot open");
    std::vector<char> data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    try {
        return torch::pickle_load(data);
    } catch (const std::exception &e) {
        throw Error(path + ": not a torch.save file torch::pickle_load reads: " + e.what());
    }
}

StateDict
to_state_dict(const c10::IValue &v, const std::string &what)
{
    if (!v.isGenericDict())
        throw Error(what + ": not a dict");
    StateDict out;
    for (const auto &e : v.toGenericDict()) {
        if (!e.key().isString() || !e.value().isTensor())
            throw Error(what + ": not a dict of str to tensor");
        out.emplace_back(e.key().toStringRef(), e.value().toTensor());
    }
    return out;
}

void
save_state_dict(const StateDict &sd, const std::string &path)
{
    c10::Dict<std::string, torch::Tensor> d;
    for (const auto &kv : sd)
        d.insert(kv.first, kv.second.detach());
    auto bytes = torch::pickle_save(d);
    std::ofstream out(path, std::ios::binary);
    out.write(bytes.data(), (std::streamsize)bytes.size());
    if (!out)
        throw Error(path + ": cannot write");
}

Prepared
prepare_qat(const qp_graph *float_graph, qp_backend be, const qp_config *cfg)
{
    qp_graph *g = nullptr;
    if (qp_graph_clone(float_graph, &g))
        throw Error("prepare: cannot copy the graph (out of memory)");
    GraphPtr gp(g, qp_graph_destroy);
    /* tag every float module; prepare carries the tags to the modules made from
     * them (a fused module keeps its first module's, `.bn` gets the BN's) */
    std::vector<std::string> paths;
    for (qp_module m = qp_graph_first_module(g); !qp_module_is_null(m); m = qp_module_next(g, m))
        paths.emplace_back(qp_module_path(g, m));
    size_t i = 0;
    for (qp_module m = qp_graph_first_module(g); !qp_module_is_null(m);
         m = qp_module_next(g, m), i++)
        if (qp_module_set_user_data(g, m, (void *)(uintptr_t)(i + 1)))
            throw Error(std::string("prepare: ") + qp_graph_errmsg(g));
    if (qp_prepare_qat(g, be, cfg))
        throw Error(std::string("prepare (") + qp_backend_name(be) + "): " + qp_graph_errmsg(g));
    Prepared p;
    p.graph = gp;
    for (qp_module m = qp_graph_first_module(g); !qp_module_is_null(m); m = qp_module_next(g, m)) {
        auto tag = (uintptr_t)qp_module_user_data(g, m);
        if (tag >= 1 && tag <= paths.size())
            p.origins.emplace_back(qp_module_path(g, m), paths[tag - 1]);
    }
    qp_quant_set *s = nullptr;
    qp_error err{};
    if (qp_quant_set_create(g, be, cfg, nullptr, &s, &err))
        throw Error(std::string("quantizers: ") + err.msg);
    p.quant = QuantSetPtr(s, qp_quant_set_destroy);
    return p;
}

StateDict
map_float_state(const StateDict &float_state,
                const std::vector<std::pair<std::string, std::string>> &origins)
{
    std::map<std::string, std::vector<std::string>> to; /* float path -> prepared paths */
    for (const auto &o : origins)
        to[o.second].push_back(o.first);
    StateDict out;
    for (const auto &kv : float_state) {
        const std::string &key = kv.first;
        bool mapped = false;
        /* the longest module path the key starts with */
        for (size_t dot = key.rfind('.'); dot != std::string::npos && !mapped;
             dot = dot ? key.rfind('.', dot - 1) : std::string::npos) {
            auto it = to.find(key.substr(0, dot));
            if (it == to.end())
                continue;
            for (const auto &np : it->second)
                out.emplace_back(np + key.substr(dot), kv.second);
            mapped = true;
        }
        if (!mapped)
            out.push_back(kv);
    }
    return out;
}

} // namespace qptorch
