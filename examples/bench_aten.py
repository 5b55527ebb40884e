#!/usr/bin/env python3
"""bench_aten.py - ATen's learnable fake quantization, forward and backward,
one thread, side by side with `qprep bench-quant` in the same run.

What MQBench's LearnableFakeQuantize calls in training (observer off):
  torch._fake_quantize_learnable_per_tensor_affine   on (64, 64, 56, 56)
  torch._fake_quantize_learnable_per_channel_affine  on (256, 256, 3, 3), axis 0
each with the range and grad factor Tensorrt's quantizers use (8-bit
symmetric, [-127, 127]; LSQ's 1 / sqrt(numel * quant_max), per channel
numel / channels). The forward and the backward (torch.autograd.grad of x,
scale and zero point from dy) are timed apart; the figures are medians, by
the wall clock and by the thread's CPU time (steadier on a shared machine).
With --qprep PATH the same shapes go through `qprep bench-quant` (Tensorrt
activation and weight quantizers, which are those two ops' LearnableFakeQuantize)
and both are printed in one table.

usage: /usr/bin/python3 examples/bench_aten.py [--qprep build-release/examples/qprep]
                                                [--repeat N] [--json]
(needs torch: Debian's python3-torch is /usr/bin/python3's)
"""
import argparse
import json
import math
import statistics
import subprocess
import time

import torch

QMIN, QMAX = -127, 127


def timed(fn, repeat):
    """Median wall-clock and thread CPU microseconds of fn() after a warm-up."""
    fn()
    wall, cpu = [], []
    for _ in range(repeat):
        t0, c0 = time.perf_counter(), time.thread_time()
        fn()
        wall.append((time.perf_counter() - t0) * 1e6)
        cpu.append((time.thread_time() - c0) * 1e6)
    return statistics.median(wall), statistics.median(cpu)


def bench_aten(shape, per_channel, repeat):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(shape, generator=g).requires_grad_(True)
    dy = torch.randn(shape, generator=g)
    if per_channel:
        c = shape[0]
        amax = x.detach().abs().reshape(c, -1).amax(dim=1)
        scale = (amax / ((QMAX - QMIN) / 2)).requires_grad_(True)
        zp = torch.zeros(c).requires_grad_(True)
        gf = 1.0 / math.sqrt(x.numel() / c * QMAX)

        def fwd():
            return torch._fake_quantize_learnable_per_channel_affine(x, scale, zp, 0, QMIN, QMAX,
                                                                     gf)
    else:
        scale = (x.detach().abs().max() / ((QMAX - QMIN) / 2)).reshape(1).requires_grad_(True)
        zp = torch.zeros(1).requires_grad_(True)
        gf = 1.0 / math.sqrt(x.numel() * QMAX)

        def fwd():
            return torch._fake_quantize_learnable_per_tensor_affine(x, scale, zp, QMIN, QMAX, gf)

    forward = timed(fwd, repeat)
    wall, cpu = [], []
    for r in range(repeat + 1):
        y = fwd()
        t0, c0 = time.perf_counter(), time.thread_time()
        torch.autograd.grad(y, (x, scale, zp), dy)
        if r:
            wall.append((time.perf_counter() - t0) * 1e6)
            cpu.append((time.thread_time() - c0) * 1e6)
    return forward, (statistics.median(wall), statistics.median(cpu))


def bench_qprep(qprep, role, shape, repeat):
    cmd = [qprep, "bench-quant", "--backend", "Tensorrt", "--role", role, "--shape",
           ",".join(map(str, shape)), "--repeat", str(repeat), "--json"]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return json.loads(out)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--qprep", help="the qprep tool (a Release build) to run beside ATen")
    ap.add_argument("--repeat", type=int, default=20)
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    torch.set_num_threads(1)
    cases = [("per_tensor", "activation", (64, 64, 56, 56), False),
             ("per_channel", "weight", (256, 256, 3, 3), True)]
    rows = []
    for name, role, shape, pc in cases:
        fwd, bwd = bench_aten(shape, pc, a.repeat)
        row = {"case": name, "shape": list(shape), "elements": math.prod(shape),
               "aten_forward_us": round(fwd[0], 1), "aten_backward_us": round(bwd[0], 1),
               "aten_forward_cpu_us": round(fwd[1], 1), "aten_backward_cpu_us": round(bwd[1], 1)}
        if a.qprep:
            q = bench_qprep(a.qprep, role, shape, a.repeat)
            for k in ("forward_us", "backward_us", "observer_us", "forward_cpu_us",
                      "backward_cpu_us"):
                row["qprep_" + k] = q[k]
        rows.append(row)
    if a.json:
        print(json.dumps({"torch": torch.__version__, "threads": torch.get_num_threads(),
                          "repeat": a.repeat, "cases": rows}, indent=1))
        return
    print(f"torch {torch.__version__}, {torch.get_num_threads()} thread, median of {a.repeat}")
    head = f"{'case':12} {'shape':18} {'clock':5} {'ATen fwd':>10} {'ATen bwd':>10} {'ATen f+b':>10}"
    if a.qprep:
        head += f" {'qprep fwd':>10} {'qprep bwd':>10} {'qprep f+b':>10} {'ATen/qprep':>10}"
    print(head + "   (microseconds)")
    for r in rows:
        for clock, sfx in (("wall", "_us"), ("cpu", "_cpu_us")):
            af, ab = r["aten_forward" + sfx], r["aten_backward" + sfx]
            line = (f"{r['case']:12} {'x'.join(map(str, r['shape'])):18} {clock:5} {af:10.1f} "
                    f"{ab:10.1f} {af + ab:10.1f}")
            if a.qprep:
                qf, qb = r["qprep_forward" + sfx], r["qprep_backward" + sfx]
                line += f" {qf:10.1f} {qb:10.1f} {qf + qb:10.1f} {(af + ab) / (qf + qb):10.2f}"
            print(line)


if __name__ == "__main__":
    main()
