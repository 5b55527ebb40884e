#!/usr/bin/env python3
"""Writes tanh_torch.txt: float32 inputs and torch.tanh of them on torch 1.13's
CPU (the AVX2 kernel, SLEEF's algorithm), one `x y` pair a line as C99 hex
floats, for test_quant_adaround_qdrop's check of src/quant/tanh_aten.c.

  python3 gen_tanh.py > tanh_torch.txt
"""
import sys

import torch

torch.set_num_threads(1)
g = torch.Generator().manual_seed(14)
parts = [
    torch.linspace(-10.0, 10.0, 2001),
    torch.rand(2000, generator=g) * 18 - 9,
    torch.randn(1000, generator=g) * 0.05,
    torch.randn(500, generator=g) * 1e-5,
    # DSQ's arguments: k2 * (frac - 0.5) for alpha 0.4 (k2 = log 4)
    (torch.rand(1000, generator=g) - 0.5) * 1.3862943611198906,
    torch.tensor([0.0, -0.0, 8.664339, 8.66434, 8.6643, -8.6643, 9.0, 20.0, 1e-30, -1e-30,
                  1e-45, 88.0, -88.0, 1e30, float("inf"), float("-inf"), float("nan")]),
]
x = torch.cat(parts).float()
y = torch.tanh(x)
out = ["# x torch.tanh(x), float32 as hex, torch %s" % torch.__version__]
for a, b in zip(x.tolist(), y.tolist()):
    out.append("%s %s" % (float(a).hex(), float(b).hex()))
sys.stdout.write("\n".join(out) + "\n")
