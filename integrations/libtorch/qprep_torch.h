/*
 * qprep_torch.h - qprep from LibTorch's C++ frontend: a qgraph run as a
 * torch::nn::Module (float, or prepared for QAT with qprep's quantizer runtime
 * behind every fake-quantizer), and the glue to load PyTorch state_dicts.
 *
 * Errors are thrown as qptorch::Error (a std::runtime_error) whose message
 * names the node, module, key or file at fault. Objects own what they are
 * given as shared pointers; nothing here keeps global state.
 */
#ifndef QPREP_TORCH_H
#define QPREP_TORCH_H

#include <qprep/prepare.h>
#include <qprep/quant.h>

#include <torch/torch.h>

#include <memory>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace qptorch
{

struct Error : std::runtime_error {
    using std::runtime_error::runtime_error;
};

using GraphPtr = std::shared_ptr<qp_graph>;
using QuantSetPtr = std::shared_ptr<qp_quant_set>;

/* A state_dict: names and tensors in PyTorch's order. */
using StateDict = std::vector<std::pair<std::string, torch::Tensor>>;

/* Reads a qgraph file; throws naming the file, line and column. */
GraphPtr read_graph(const std::string &path);

/* Reads a torch.save file (zip format) with torch::pickle_load: the pickled
 * object as an IValue. */
c10::IValue load_pickle(const std::string &path);
/* A dict of str -> tensor (a state_dict) as a StateDict, in the dict's order. */
StateDict to_state_dict(const c10::IValue &dict, const std::string &what);
/* Writes a state_dict as torch.save would (torch::pickle_save of a dict), for
 * torch.load or load_pickle to read back. */
void save_state_dict(const StateDict &sd, const std::string &path);

/* What prepare gave back: the prepared graph, one runtime quantizer per
 * fake-quantizer module, and for every module of the prepared graph that comes
 * from float modules the float module it takes its tensors from (prepared path,
 * float path): `conv1` <- `conv1`, `conv1.bn` <- `bn1`. */
struct Prepared {
    GraphPtr graph;
    QuantSetPtr quant;
    std::vector<std::pair<std::string, std::string>> origins;
};

/* Prepares a copy of `float_graph` for QAT on `be` (cfg: NULL for the
 * backend's defaults), as qp_prepare_qat, and creates its quantizers
 * (qp_quant_set_create). float_graph is left as it was. */
Prepared prepare_qat(const qp_graph *float_graph, qp_backend be, const qp_config *cfg);

/* Renames a float model's state_dict to the prepared model's names by the
 * origins prepare recorded (`bn1.weight` -> `conv1.bn.weight`); a key whose
 * module has no counterpart is kept as is. */
StateDict map_float_state(const StateDict &float_state,
                          const std::vector<std::pair<std::string, std::string>> &origins);

/* A fake-quantizer module whose forward and backward are qprep's runtime
 * (qp_quant_forward / qp_quant_backward in a torch::autograd::Function). Its
 * learnable parameters (scale, zero_point, alpha, ...) are torch parameters
 * named as in MQBench, which the runtime reads before and writes back after
 * every forward; its other state lives in the runtime. The qp_quant is
 * borrowed: it belongs to the set the module was built from, which the
 * GraphModule keeps alive. */
class FakeQuantImpl : public torch::nn::Module
{
  public:
    FakeQuantImpl(qp_quant *q, std::string path);
    torch::Tensor forward(const torch::Tensor &x);
    qp_quant *
    quantizer() const
    {
        return q_;
    }
    const std::string &
    path() const
    {
        return path_;
    }
    /* Appends the module's state_dict entries (runtime order) under prefix. */
    void append_state(const std::string &prefix, StateDict &out) const;
    /* Loads one entry by its name relative to the module; false if there is none. */
    bool load_entry(const std::string &name, const torch::Tensor &value);

    /* Used by the autograd function. */
    void push_params();
    void pull_params();
    std::vector<torch::Tensor> runtime_params() const;
    void set_runtime_params(const std::vector<torch::Tensor> &values);
    std::vector<torch::Tensor> &
    params()
    {
        return params_;
    }
    [[noreturn]] void fail(const char *what) const;

  private:
    qp_quant *q_;
    std::string path_;
    std::vector<std::string> names_;
    std::vector<torch::Tensor> params_;
};
TORCH_MODULE(FakeQuant);

/* A qgraph as a module: each call_module node's module built from its type and
 * attributes and registered under its dotted path, each call_function and
 * call_method node the ATen operation it names, run in graph order. With a
 * quantizer set (a prepared graph), the QAT modules and fake-quantizers run on
 * qprep's runtime. Unknown module types and functions are refused at
 * construction, naming the node. */
class GraphModuleImpl : public torch::nn::Module
{
  public:
    explicit GraphModuleImpl(GraphPtr graph, QuantSetPtr quant = nullptr);
    ~GraphModuleImpl() override;

    /* One input, the first tensor of the output. */
    torch::Tensor forward(const torch::Tensor &x);
    /* The graph's placeholders in order; every tensor of the output (tuples,
     * lists and dicts flattened). */
    std::vector<torch::Tensor> run(const std::vector<torch::Tensor> &inputs);

    /* The full state_dict (parameters, buffers, quantizer state), as MQBench's
     * prepared GraphModule names it. Tensors are the live parameters and
     * buffers; quantizer buffers are copies. */
    StateDict state_dict() const;
    /* Copies entries in by name; with strict, a missing or unknown key throws
     * (naming them) before anything is changed. Returns the number loaded. */
    size_t load_state_dict(const StateDict &sd, bool strict = false);

    /* mqbench.utils.state over every fake-quantizer. */
    void enable_calibration();
    void enable_quantization();
    void disable_all();

    qp_graph *
    graph() const
    {
        return graph_.get();
    }
    qp_quant_set *
    quant() const
    {
        return quant_.get();
    }

    struct Impl;

  private:
    GraphPtr graph_;
    QuantSetPtr quant_;
    std::unique_ptr<Impl> impl_;
};
TORCH_MODULE(GraphModule);

} // namespace qptorch

#endif
