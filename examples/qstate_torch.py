#!/usr/bin/env python3
"""qstate_torch.py - quantizer state files (README "Quantizer state files")
from PyTorch: save_qstate writes every FakeQuantizeBase module's state_dict
of a model (a MQBench model after prepare_by_platform), load_qstate loads such
a file back (load_state_dict, strict=False: MQBench's loader resizes
per-channel entries). The two functions are README's.

Run as a program it checks them against files qprep wrote:
    /usr/bin/python3 examples/qstate_torch.py STATE_FILE...
For each file it builds a model of FakeQuantizeBase modules with the file's
paths, entry names, dtypes and shapes (zeros), loads the file into it, saves
it again, and requires the same bytes. Exits 1 on a difference.
"""
import sys

import torch
KINDS = {torch.float32: "f32", torch.int32: "i32", torch.int64: "i64", torch.uint8: "u8", torch.bool: "bool"}

def save_qstate(model, path):
    with open(path, "w") as f:
        f.write("qstate 1\n")
        for name, m in model.named_modules():
            if isinstance(m, torch.quantization.FakeQuantizeBase):
                for k, v in m.state_dict().items():
                    vals = ", ".join(map(repr, v.flatten().to(torch.int32 if v.dtype == torch.bool else v.dtype).tolist()))
                    f.write(f"tensor {name}.{k} {KINDS[v.dtype]} {tuple(v.shape)} [{vals}]\n")

def load_qstate(model, path):
    sd, dtypes = {}, {k: d for d, k in KINDS.items()}
    for line in open(path):
        if line.startswith("tensor "):
            _, name, kind, rest = line.rstrip().split(" ", 3)
            shape, vals = rest[:-1].split(" [")
            num = float if kind == "f32" else int
            data = [num(v) for v in vals.split(",") if v.strip()]
            dims = [int(d) for d in shape.strip("()").split(",") if d.strip()]
            sd[name] = torch.tensor(data, dtype=dtypes[kind]).reshape(dims)
    model.load_state_dict(sd, strict=False)  # MQBench resizes per-channel entries


class _Holder(torch.nn.Module):
    pass


class _Quantizer(torch.quantization.FakeQuantizeBase):
    """A stand-in fake-quantizer holding the entries a file names, in its order."""

    def __init__(self, entries):
        super().__init__()
        for k in list(self._buffers):
            del self._buffers[k]
        self.activation_post_process = _Holder()
        for key, dtype, dims in entries:
            owner, leaf = self, key
            if key.startswith("activation_post_process."):
                owner, leaf = self.activation_post_process, key.split(".", 1)[1]
            owner.register_buffer(leaf, torch.zeros(dims, dtype=dtype))

    def forward(self, x):
        return x

    def calculate_qparams(self, **kwargs):
        return None


def _model_like(path):
    """A module tree whose quantizers have the entries of the file at path."""
    dtypes = {k: d for d, k in KINDS.items()}
    quantizers = {}
    for line in open(path):
        if not line.startswith("tensor "):
            continue
        _, name, kind, rest = line.rstrip().split(" ", 3)
        shape = rest.split(" [")[0]
        dims = [int(d) for d in shape.strip("()").split(",") if d.strip()]
        mod, _, key = name.partition(".activation_post_process.")
        if key:
            key = "activation_post_process." + key
        else:
            mod, key = name.rsplit(".", 1)
        quantizers.setdefault(mod, []).append((key, dtypes[kind], dims))
    root = _Holder()
    for mod, entries in quantizers.items():
        parent, parts = root, mod.split(".")
        for p in parts[:-1]:
            if not hasattr(parent, p):
                parent.add_module(p, _Holder())
            parent = getattr(parent, p)
        parent.add_module(parts[-1], _Quantizer(entries))
    return root


if __name__ == "__main__":
    import os
    import tempfile
    bad = 0
    for path in sys.argv[1:]:
        model = _model_like(path)
        load_qstate(model, path)
        with tempfile.TemporaryDirectory() as d:
            out = os.path.join(d, "again.qstate")
            save_qstate(model, out)
            want = [l for l in open(path) if l.startswith("tensor ")]
            got = [l for l in open(out) if l.startswith("tensor ")]
        if want != got:
            diff = next((i for i, (a, b) in enumerate(zip(want, got)) if a != b), len(got))
            print(f"{path}: line {diff + 1} of the tensors differs after load and save")
            bad += 1
        else:
            print(f"{path}: {len(want)} entries read and written back byte for byte")
    sys.exit(1 if bad else 0)
