/*
 * example.cpp - README's "Using qprep from LibTorch", as a program: trace (here:
 * read) a graph, prepare it, load PyTorch's float weights, calibrate, train
 * a few steps and save a state_dict torch.load reads; then load it into a
 * model prepared afresh, which must compute the same.
 *
 *   qprep_torch_example IN.qg BACKEND FLOAT.pt OUT.pt
 *
 * Batches are random (8 images of the size given by QP_EXAMPLE_HW, default 32,
 * 10 classes): the point is the API, not the accuracy.
 */
#include <qprep_torch.h>

#include <cstdio>
#include <cstdlib>

int
main(int argc, char **argv)
{
    if (argc != 5) {
        std::fprintf(stderr, "usage: qprep_torch_example IN.qg BACKEND FLOAT.pt OUT.pt\n");
        return 2;
    }
    try {
        qp_backend be;
        if (qp_backend_from_name(argv[2], &be))
            throw qptorch::Error(std::string("unknown backend ") + argv[2]);
        const char *hw_env = std::getenv("QP_EXAMPLE_HW");
        int64_t hw = hw_env ? std::atoll(hw_env) : 32;
        torch::manual_seed(0);
        std::vector<torch::Tensor> calib_batches = {torch::randn({8, 3, hw, hw}),
                                                    torch::randn({8, 3, hw, hw})};
        std::vector<std::pair<torch::Tensor, torch::Tensor>> train_batches;
        for (int i = 0; i < 3; i++)
            train_batches.emplace_back(torch::randn({8, 3, hw, hw}), torch::randint(0, 10, {8}));

        /* --- what README shows --- */
        auto graph = qptorch::read_graph(argv[1]);
        auto prep = qptorch::prepare_qat(graph.get(), be, nullptr);
        qptorch::GraphModule model(prep.graph, prep.quant);
        auto fsd = qptorch::to_state_dict(qptorch::load_pickle(argv[3]), argv[3]);
        model->load_state_dict(qptorch::map_float_state(fsd, prep.origins));
        model->train();
        model->enable_calibration();
        {
            torch::NoGradGuard ng;
            for (auto &x : calib_batches)
                model->forward(x);
        }
        model->enable_quantization();
        torch::optim::SGD opt(model->parameters(), 0.01);
        for (auto &[x, y] : train_batches) {
            opt.zero_grad();
            auto loss = torch::nn::functional::cross_entropy(model->forward(x), y);
            loss.backward();
            opt.step();
            std::printf("loss %.6f\n", loss.item<double>());
        }
        qptorch::save_state_dict(model->state_dict(), argv[4]);
        /* --- */

        /* read it back into a model prepared afresh (strict: every name must line
         * up): it must compute what the trained one does */
        auto back = qptorch::to_state_dict(qptorch::load_pickle(argv[4]), argv[4]);
        auto prep2 = qptorch::prepare_qat(graph.get(), be, nullptr);
        qptorch::GraphModule model2(prep2.graph, prep2.quant);
        model2->load_state_dict(back, true);
        model->eval();
        model2->eval();
        torch::NoGradGuard ng;
        auto x = torch::randn({8, 3, hw, hw});
        bool same = torch::equal(model->forward(x), model2->forward(x));
        std::printf("saved %zu tensors to %s; reloaded model %s\n", back.size(), argv[4],
                    same ? "computes the same" : "DIFFERS");
        return same ? 0 : 1;
    } catch (const std::exception &e) {
        std::fprintf(stderr, "qprep_torch_example: %s\n", e.what());
        return 1;
    }
}
