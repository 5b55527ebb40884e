/*
 * consumer.cpp - a C++ program built against an installed qprep: the C
 * header used from C++ (extern "C", the C++ spellings of the null handles).
 * Reads a qgraph file, verifies it and checks it round-trips; then records a
 * small graph with the tracer and checks its text.
 *
 * usage: consumer_cxx FILE.qg      exit status 0 ok, 1 failure
 */
#include <qprep/prepare.h>
#include <qprep/qprep.h>

#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>

namespace
{

int
append(void *ud, const char *data, size_t len)
{
    static_cast<std::string *>(ud)->append(data, len);
    return 0;
}

int
fail(const std::string &what)
{
    std::cerr << "consumer_cxx: " << what << "\n";
    return 1;
}

// x -> relu -> output, recorded as a C++ framework would.
int
trace_small()
{
    qp_tracer *t = nullptr;
    if (qp_tracer_create(nullptr, &t) != QP_OK)
        return fail("qp_tracer_create failed");
    qp_graph *tg = qp_tracer_graph(t);
    const char *keys[] = {"inplace"};
    qp_val inplace = QP_NULL_VAL, attrs = QP_NULL_VAL, ref = QP_NULL_VAL, args = QP_NULL_VAL;
    qp_node x = QP_NULL_NODE, r = QP_NULL_NODE;
    qp_val_new_bool(tg, false, &inplace);
    qp_val_new_dict(tg, 1, keys, &inplace, &attrs);
    qp_tracer_module(t, "relu", "nn.ReLU", attrs, nullptr);
    qp_tracer_placeholder(t, "x", QP_NULL_VAL, &x);
    qp_val_new_node(tg, x, &ref);
    qp_val_new_tuple(tg, 1, &ref, &args);
    qp_tracer_call_module(t, "relu", args, QP_NULL_VAL, &r);
    qp_val_new_node(tg, r, &ref);
    qp_tracer_output(t, ref);
    qp_graph *g = nullptr;
    qp_status st = qp_tracer_finish(t, &g);
    if (st != QP_OK)
        return fail(std::string("tracing failed: ") + qp_status_str(st));
    std::string text;
    st = qp_graph_write_text(g, append, &text);
    qp_graph_destroy(g);
    const std::string want = "qgraph 1\n"
                             "module relu nn.ReLU {inplace: False}\n"
                             "%x = placeholder x () {}\n"
                             "%relu = call_module relu (%x,) {}\n"
                             "%output = output output (%relu,) {}\n";
    if (st != QP_OK || text != want)
        return fail("traced graph text:\n" + text + "want:\n" + want);
    return 0;
}

} // namespace

int
main(int argc, char **argv)
{
    if (argc != 2)
        return fail("usage: consumer_cxx FILE.qg");
    if (std::string(qp_version()) != QP_VERSION_STRING)
        return fail(std::string("header and library versions differ: ") + qp_version());
    std::ifstream f(argv[1], std::ios::binary);
    if (!f)
        return fail(std::string("cannot open ") + argv[1]);
    std::ostringstream ss;
    ss << f.rdbuf();
    const std::string in = ss.str();

    qp_graph *g = nullptr;
    qp_error err;
    qp_status st = qp_graph_read_text(in.data(), in.size(), nullptr, &g, &err);
    if (st != QP_OK)
        return fail(std::string(argv[1]) + ":" + std::to_string(err.line) + ":" +
                    std::to_string(err.col) + ": " + err.msg);
    if (qp_graph_verify(g, nullptr, nullptr) != QP_OK)
        return fail(std::string("verify failed: ") + qp_graph_errmsg(g));
    std::string out;
    st = qp_graph_write_text(g, append, &out);
    const uint32_t nodes = qp_graph_num_nodes(g);
    qp_graph_destroy(g);
    if (st != QP_OK || out != in)
        return fail(std::string("the text does not round-trip: ") + argv[1]);
    if (trace_small())
        return 1;
    std::cout << "consumer_cxx: qprep " << qp_version() << " read, verified and wrote " << argv[1]
              << ": " << nodes << " nodes; traced x -> relu\n";
    return 0;
}
