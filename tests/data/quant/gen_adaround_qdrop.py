#!/usr/bin/env python3
"""Writes adaround_qdrop.qn: AdaRoundFakeQuantize and QDropFakeQuantize as
MQBench runs them before any reconstruction, and DoReFa / PACT backpropagating
with fake quantization off (their squash and clipping have gradients of their
own), recorded from MQBench's own classes on torch 1.13 (CPU, one thread), in
the numerics cases' format (FORMAT.md beside the numerics cases: the same
five-step protocol, or the FQ_OFF one).

  MQBENCH=/path/to/MQBench python3 gen_adaround_qdrop.py > adaround_qdrop.qn

MQBENCH is a checkout of ModelTC/MQBench at 00f477d (its mqbench/ folder);
only mqbench.fake_quantize and mqbench.observer are imported.
"""
import math
import os
import sys

import torch

sys.path.insert(0, os.environ.get("MQBENCH", "."))
from mqbench.fake_quantize.adaround_quantizer import AdaRoundFakeQuantize  # noqa: E402
from mqbench.fake_quantize.dorefa import DoReFaFakeQuantize  # noqa: E402
from mqbench.fake_quantize.dsq import DSQFakeQuantize  # noqa: E402
from mqbench.fake_quantize.pact import PACTFakeQuantize  # noqa: E402
from mqbench.fake_quantize.qdrop_quantizer import QDropFakeQuantize  # noqa: E402
from mqbench.observer import EMAMinMaxObserver, MinMaxObserver  # noqa: E402
from mqbench.scheme import QuantizeScheme  # noqa: E402

torch.set_num_threads(1)
FQ = {"AdaRoundFakeQuantize": AdaRoundFakeQuantize, "QDropFakeQuantize": QDropFakeQuantize,
      "DoReFaFakeQuantize": DoReFaFakeQuantize, "PACTFakeQuantize": PACTFakeQuantize,
      "DSQFakeQuantize": DSQFakeQuantize}
# (observer, fake_quant, lr, data, backward)
PROTOCOL = [(True, False, None, "normal", False), (True, False, None, "uniform", False),
            (False, True, 0.01, "normal", True), (False, True, 0.01, "ties", True),
            (True, True, None, "uniform", True)]
FQ_OFF = [(True, False, None, "normal", True), (True, False, 0.01, "uniform", True),
          (False, False, None, "normal", True), (True, True, None, "uniform", True)]
OBS = {"MinMaxObserver": MinMaxObserver, "EMAMinMaxObserver": EMAMinMaxObserver}

# name, role, fake quantizer, observer, scheme, shape
CASES = [
    ("adaround.w.a4c", "weight", "AdaRoundFakeQuantize", "MinMaxObserver",
     dict(bit=4, symmetry=False, per_channel=True, pot_scale=False), (3, 2, 2, 2)),
    ("adaround.a.s8t", "activation", "AdaRoundFakeQuantize", "EMAMinMaxObserver",
     dict(bit=8, symmetry=True, per_channel=False, pot_scale=False), (2, 3, 5)),
    ("adaround.w.s3tp", "weight", "AdaRoundFakeQuantize", "MinMaxObserver",
     dict(bit=3, symmetry=True, per_channel=False, pot_scale=True), (4, 6)),
    ("qdrop.a.a8t", "activation", "QDropFakeQuantize", "EMAMinMaxObserver",
     dict(bit=8, symmetry=False, per_channel=False, pot_scale=False), (2, 3, 5)),
    # MQBench broadcasts QDrop's per-channel zero point along the last axis
    ("qdrop.w.a4c", "weight", "QDropFakeQuantize", "MinMaxObserver",
     dict(bit=4, symmetry=False, per_channel=True, pot_scale=False), (3, 2, 3)),
    ("qdrop.w.s4c", "weight", "QDropFakeQuantize", "EMAMinMaxObserver",
     dict(bit=4, symmetry=True, per_channel=True, pot_scale=False), (4, 3, 4)),
    ("qdrop.a.a2t", "activation", "QDropFakeQuantize", "MinMaxObserver",
     dict(bit=2, symmetry=False, per_channel=False, pot_scale=False), (5, 7)),
    ("dorefa.fqoff.w.a4c", "weight", "DoReFaFakeQuantize", "MinMaxObserver",
     dict(bit=4, symmetry=False, per_channel=True, pot_scale=False), (3, 2, 2, 2), FQ_OFF),
    ("pact.fqoff.a.s8t", "activation", "PACTFakeQuantize", "MinMaxObserver",
     dict(bit=8, symmetry=True, per_channel=False, pot_scale=False), (4, 9), FQ_OFF, 3.0),
    ("pact.fqoff.a.a4t", "activation", "PACTFakeQuantize", "EMAMinMaxObserver",
     dict(bit=4, symmetry=False, per_channel=False, pot_scale=False), (4, 9), FQ_OFF, 1.0),
    # a ConvTranspose weight: channel axis 1, as prepare builds it
    ("adaround.w.a4c.axis1", "weight", "AdaRoundFakeQuantize", "MinMaxObserver",
     dict(bit=4, symmetry=False, per_channel=True, pot_scale=False), (2, 3, 2, 2), PROTOCOL,
     None, 1),
    ("qdrop.w.a4c.axis1", "weight", "QDropFakeQuantize", "MinMaxObserver",
     dict(bit=4, symmetry=False, per_channel=True, pot_scale=False), (4, 3, 3), PROTOCOL,
     None, 1),
    ("dsq.w.s4c.axis1", "weight", "DSQFakeQuantize", "MinMaxObserver",
     dict(bit=4, symmetry=True, per_channel=True, pot_scale=False), (2, 3, 2, 2), PROTOCOL,
     None, 1),
    ("dorefa.w.a4c.axis1", "weight", "DoReFaFakeQuantize", "MinMaxObserver",
     dict(bit=4, symmetry=False, per_channel=True, pot_scale=False), (2, 3, 2, 2), PROTOCOL,
     None, 1),
]


def fnum(v):
    """The shortest decimal that reads back to the same double (the float32 widened)."""
    if math.isnan(v):
        return "nan"
    if math.isinf(v):
        return "inf" if v > 0 else "-inf"
    return repr(float(v))


def tensor_line(name, t):
    kind = {torch.float32: "f32", torch.int32: "i32", torch.int64: "i64", torch.uint8: "u8",
            torch.bool: "bool"}[t.dtype]
    shape = "(" + ", ".join(str(s) for s in t.shape) + ("," if t.dim() == 1 else "") + ")"
    vals = t.reshape(-1).tolist()
    if kind == "f32":
        body = ", ".join(fnum(v) for v in vals)
    elif kind == "bool":
        body = ", ".join("1" if v else "0" for v in vals)
    else:
        body = ", ".join(str(int(v)) for v in vals)
    return "tensor %s %s %s [%s]" % (name, kind, shape, body)


def value(v):
    if isinstance(v, bool):
        return "True" if v else "False"
    if isinstance(v, dict):
        return "{" + ", ".join("%s: %s" % (k, value(x)) for k, x in v.items()) + "}"
    if isinstance(v, str):
        return '"%s"' % v
    return str(v)


def data(shape, kind, gen):
    if kind == "normal":
        return torch.randn(shape, generator=gen)
    return torch.rand(shape, generator=gen) * 4 - 1.5


def ties(mod, shape, gen):
    """x on exact rounding ties of each channel's current grid."""
    scale, zp = mod.scale.detach(), mod.zero_point.detach().float()
    k = torch.randint(mod.quant_min, mod.quant_max, shape, generator=gen).float()
    if mod.ch_axis >= 0 and scale.numel() > 1:
        ns = [1] * len(shape)
        ns[mod.ch_axis] = shape[mod.ch_axis]
        scale, zp = scale.reshape(ns), zp.reshape(ns)
    return ((k + 0.5 - zp) * scale).float()


def run(name, role, fq, obs, scheme, shape, out, steps=PROTOCOL, alpha=None, ch_axis=None):
    gen = torch.Generator().manual_seed(sum(map(ord, name)))
    p = QuantizeScheme(**scheme).to_observer_params()
    if ch_axis is not None:
        p["ch_axis"] = ch_axis
    fakeq = {} if alpha is None else {"alpha": alpha}
    mod = FQ[fq](OBS[obs], **p, **fakeq)
    mod.train()
    side = "w" if role == "weight" else "a"
    other = "a" if side == "w" else "w"
    cfg = {side + "_observer": obs, other + "_observer": "MinMaxObserver",
           side + "_fakequantize": fq, other + "_fakequantize": "FixedFakeQuantize",
           side + "_qscheme": scheme,
           other + "_qscheme": dict(bit=8, symmetry=False, per_channel=False, pot_scale=False)}
    keys = ["w_observer", "a_observer", "w_fakequantize", "a_fakequantize", "w_qscheme",
            "a_qscheme"]
    if alpha is not None:
        cfg[side + "_fakeq_params"] = {"alpha": alpha}
        keys.append(side + "_fakeq_params")
    cfg = {k: cfg[k] for k in keys}
    out.append("case Academic.%s" % name)
    out.append("backend Academic")
    out.append("role " + role)
    out.append("config " + value(cfg))
    if ch_axis is not None:
        out.append("ch_axis %d" % ch_axis)
    for obs_on, fq_on, lr, kind, bwd in steps:
        mod.enable_observer() if obs_on else mod.disable_observer()
        mod.enable_fake_quant() if fq_on else mod.disable_fake_quant()
        x = ties(mod, shape, gen) if kind == "ties" else data(shape, kind, gen)
        dy = torch.randn(shape, generator=gen) if bwd else None
        head = "step {observer: %s, fake_quant: %s" % (value(obs_on), value(fq_on))
        out.append(head + (", lr: %s}" % lr if lr else "}"))
        out.append(tensor_line("x", x))
        if dy is not None:
            out.append(tensor_line("dy", dy))
        for prm in mod.parameters():
            prm.grad = None
        xr = x.clone().requires_grad_(dy is not None)
        y = mod(xr)
        out.append(tensor_line("y", y.detach()))
        if dy is not None:
            y.backward(dy)
            out.append(tensor_line("dx", xr.grad))
            for pn, prm in mod.named_parameters():
                g = prm.grad if prm.grad is not None else torch.zeros_like(prm)
                out.append(tensor_line("grad." + pn, g))
            if lr:
                with torch.no_grad():
                    for prm in mod.parameters():
                        if prm.grad is not None:
                            prm.add_(prm.grad, alpha=-lr)
        for k, v in mod.state_dict().items():
            out.append(tensor_line("state." + k, v))
    out.append("end")


def main():
    out = ["qnum 1", "# MQBench 00f477d on torch %s: gen_adaround_qdrop.py" % torch.__version__]
    for c in CASES:
        run(*c[:6], out, *c[6:])
    sys.stdout.write("\n".join(out) + "\n")


if __name__ == "__main__":
    main()
