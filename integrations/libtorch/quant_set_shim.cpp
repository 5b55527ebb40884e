/*
 * quant_set_shim.cpp - TEMPORARY: the qp_quant_set_* calls the LibTorch client
 * makes, built from qp_quant_create per fake-quantizer module of the prepared
 * graph, for as long as the runtime's own set API is not on main. Compiled
 * only when no src/quant/ file defines qp_quant_set_create.
 */
#include "qprep_torch.h"

#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

namespace
{
struct Entry {
    std::string path, node, owner;
    qp_side role;
    qp_quant *q;
};
} // namespace

struct qp_quant_set {
    std::vector<Entry> e;
    std::string err;
};

extern "C" {

void
qp_quant_set_destroy(qp_quant_set *s)
{
    if (!s)
        return;
    for (auto &e : s->e)
        qp_quant_destroy(e.q);
    delete s;
}

qp_status
qp_quant_set_create(const qp_graph *g, qp_backend be, const qp_config *cfg,
                    const qp_allocator *alloc, qp_quant_set **out, qp_error *err)
{
    static const char wsfx[] = ".weight_fake_quant";
    auto *s = new qp_quant_set;
    auto fail = [&](qp_status st, const std::string &msg) {
        if (err) {
            err->status = st;
            err->line = err->col = 0;
            std::snprintf(err->msg, sizeof err->msg, "%s", msg.c_str());
        }
        qp_quant_set_destroy(s);
        *out = nullptr;
        return st;
    };
    for (qp_module m = qp_graph_first_module(g); !qp_module_is_null(m); m = qp_module_next(g, m)) {
        std::string type = qp_module_type(g, m), path = qp_module_path(g, m);
        if (type.rfind("fq.", 0) != 0)
            continue;
        Entry e;
        e.path = path;
        bool w = path.size() > sizeof wsfx - 1 &&
                 path.compare(path.size() - (sizeof wsfx - 1), sizeof wsfx - 1, wsfx) == 0;
        e.role = w ? QP_WEIGHT : QP_ACT;
        if (w)
            e.owner = path.substr(0, path.size() - (sizeof wsfx - 1));
        qp_quant_opts o = qp_quant_opts_default();
        qp_val ax = qp_module_attr(g, m, "ch_axis");
        if (!qp_val_is_null(ax) && qp_val_kind_of(g, ax) == QP_VAL_INT)
            o.ch_axis = (int)qp_val_as_int(g, ax);
        qp_val qt = qp_module_attr(g, m, "quant_type");
        std::string qts;
        if (!qp_val_is_null(qt) && qp_val_kind_of(g, qt) == QP_VAL_STR) {
            qts = qp_val_as_str(g, qt, nullptr);
            o.quant_type = qts.c_str();
        }
        qp_error e2{};
        if (qp_quant_create(alloc, be, e.role, cfg, &o, &e.q, &e2))
            return fail(e2.status, path + ": " + e2.msg);
        s->e.push_back(e);
        qp_quant_info info;
        qp_quant_get_info(e.q, &info);
        /* the runtime's quantizer must be the one prepare wrote; where the range
         * differs (OPENVINO's 7-bit weights), rebuild it from the attributes */
        std::string kind = qp_fq_kind_name(info.fake_quant);
        auto attr_i = [&](const char *k, int64_t d) {
            qp_val v = qp_module_attr(g, m, k);
            return qp_val_is_null(v) ? d : qp_val_as_int(g, v);
        };
        int64_t qmin = attr_i("quant_min", info.quant_min),
                qmax = attr_i("quant_max", info.quant_max);
        if (kind == type.substr(3) && (qmin != info.quant_min || qmax != info.quant_max)) {
            qp_config *c2 = nullptr;
            qp_qscheme sc = qp_qscheme_default();
            int64_t bits = attr_i("bitwidth", 8);
            sc.bit = (int)bits;
            sc.symmetry = info.symmetric;
            sc.per_channel = info.ch_axis >= 0;
            sc.pot_scale = info.pot_scale;
            sc.symmetric_range = info.symmetric && qmin == -(int64_t(1) << (bits - 1)) + 1;
            std::string obs = path + ".activation_post_process";
            qp_module om = qp_graph_find_module(g, obs.c_str());
            std::string ot = qp_module_is_null(om) ? "" : qp_module_type(g, om);
            qp_quant *q2 = nullptr;
            bool ok = !qp_config_create(alloc, &c2) && !qp_config_set_qscheme(c2, e.role, &sc) &&
                      !qp_config_set_fakequant(c2, e.role, type.substr(3).c_str()) &&
                      (ot.rfind("obs.", 0) != 0 ||
                       !qp_config_set_observer(c2, e.role, ot.substr(4).c_str())) &&
                      !qp_quant_create(alloc, be, e.role, c2, &o, &q2, &e2);
            qp_config_destroy(c2);
            if (ok) {
                qp_quant_destroy(s->e.back().q);
                s->e.back().q = q2;
                qp_quant_get_info(q2, &info);
            }
        }
        if (kind != type.substr(3) || qmin != info.quant_min || qmax != info.quant_max)
            return fail(QP_ERR_INVALID_ARG, path + ": the runtime builds " + kind + " [" +
                                                std::to_string(info.quant_min) + ", " +
                                                std::to_string(info.quant_max) + "] for " + type);
    }
    for (qp_node n = qp_graph_first(g); !qp_node_is_null(n); n = qp_node_next(g, n))
        if (qp_node_op(g, n) == QP_OP_CALL_MODULE)
            for (auto &e : s->e)
                if (e.role == QP_ACT && e.node.empty() && e.path == qp_node_target(g, n))
                    e.node = qp_node_name(g, n);
    *out = s;
    return QP_OK;
}

const char *
qp_quant_set_errmsg(const qp_quant_set *s)
{
    return s->err.c_str();
}

uint32_t
qp_quant_set_size(const qp_quant_set *s)
{
    return (uint32_t)s->e.size();
}

qp_status
qp_quant_set_at(qp_quant_set *s, uint32_t i, qp_quant_entry *out)
{
    if (i >= s->e.size())
        return QP_ERR_INVALID_ARG;
    auto &e = s->e[i];
    out->path = e.path.c_str();
    out->role = e.role;
    out->node = e.role == QP_ACT ? e.node.c_str() : nullptr;
    out->owner = e.role == QP_WEIGHT ? e.owner.c_str() : nullptr;
    out->q = e.q;
    return QP_OK;
}

qp_quant *
qp_quant_set_find(qp_quant_set *s, const char *path)
{
    for (auto &e : s->e)
        if (e.path == path)
            return e.q;
    return nullptr;
}

void
qp_quant_set_enable_calibration(qp_quant_set *s)
{
    for (auto &e : s->e) {
        qp_quant_enable_observer(e.q, true);
        qp_quant_enable_fake_quant(e.q, false);
    }
}

void
qp_quant_set_enable_quantization(qp_quant_set *s, bool weight_cali_on, bool act_cali_on)
{
    for (auto &e : s->e) {
        qp_quant_enable_fake_quant(e.q, true);
        qp_quant_enable_observer(e.q, e.role == QP_WEIGHT ? weight_cali_on : act_cali_on);
    }
}

void
qp_quant_set_disable_all(qp_quant_set *s)
{
    for (auto &e : s->e) {
        qp_quant_enable_observer(e.q, false);
        qp_quant_enable_fake_quant(e.q, false);
    }
}

void
qp_quant_set_enable_all(qp_quant_set *s)
{
    for (auto &e : s->e) {
        qp_quant_enable_observer(e.q, true);
        qp_quant_enable_fake_quant(e.q, true);
    }
}

} /* extern "C" */
