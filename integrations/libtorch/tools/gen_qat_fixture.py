#!/usr/bin/env python3
"""Writes a QAT end-to-end fixture (the protocol of tests/data/e2e/*.qat.md) with
MQBench, for models of its own, to check qprep_torch_qat beyond the fixtures
shipped with the project.

    PYTHONPATH=/path/to/MQBench python3 gen_qat_fixture.py MODEL BACKEND SEED OUTDIR [N H]

Writes OUTDIR/MODEL.in.qg (the traced float graph) and
OUTDIR/MODEL.BACKEND.qat.pt. Batches are (N, 3, H, H), default (8, 3, 32, 32)
as in the shipped fixture's protocol. Needs torch 1.13 and MQBench's sources; the shim
below maps the torch 2 module names MQBench imports onto torch 1.13's.
"""
import copy
import importlib
import math
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F


def shim():
    import torch.ao.quantization.fx.fusion_patterns as fp
    sys.modules.setdefault('torch.ao.quantization.fx.fuse_handler', fp)
    for old, new in [('torch.ao.nn', 'torch.nn'), ('torch.ao.nn.intrinsic', 'torch.nn.intrinsic'),
                     ('torch.ao.nn.intrinsic.qat', 'torch.nn.intrinsic.qat'),
                     ('torch.ao.nn.intrinsic.modules', 'torch.nn.intrinsic.modules'),
                     ('torch.ao.nn.intrinsic.modules.fused', 'torch.nn.intrinsic.modules.fused'),
                     ('torch.ao.nn.intrinsic.qat.modules', 'torch.nn.intrinsic.qat.modules'),
                     ('torch.ao.nn.intrinsic.qat.modules.conv_fused',
                      'torch.nn.intrinsic.qat.modules.conv_fused'),
                     ('torch.ao.nn.qat', 'torch.nn.qat'), ('torch.ao.nn.qat.modules', 'torch.nn.qat.modules'),
                     ('torch.ao.nn.quantized', 'torch.nn.quantized')]:
        if old not in sys.modules:
            sys.modules[old] = importlib.import_module(new)
    import torch.ao.quantization.backend_config.native as nat
    if not hasattr(nat, 'weighted_op_quint8_dtype_config'):
        nat.weighted_op_quint8_dtype_config = nat.weighted_op_int8_dtype_config


# ---- models ----

class MixNet(nn.Module):
    """Conv-BN-ReLU, depthwise Conv-BN-ReLU6, Conv-BN + Hardswish, max pool,
    a residual add, cat, adaptive pool, flatten, Linear-ReLU, Linear."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(3, 8, 3, stride=1, padding=1, bias=False)
        self.stem_bn = nn.BatchNorm2d(8)
        self.relu = nn.ReLU()
        self.dw = nn.Conv2d(8, 8, 3, padding=1, groups=8, bias=False)
        self.dw_bn = nn.BatchNorm2d(8)
        self.relu6 = nn.ReLU6()
        self.pw = nn.Conv2d(8, 12, 1, bias=True)
        self.pw_bn = nn.BatchNorm2d(12)
        self.hs = nn.Hardswish()
        self.pool = nn.MaxPool2d(3, stride=2, padding=1)
        self.side = nn.Conv2d(8, 12, 1, stride=2, bias=True)
        self.gap = nn.AdaptiveAvgPool2d(1)
        self.fc1 = nn.Linear(24, 16)
        self.fc_relu = nn.ReLU()
        self.fc2 = nn.Linear(16, 10)

    def forward(self, x):
        x = self.relu(self.stem_bn(self.stem(x)))
        y = self.relu6(self.dw_bn(self.dw(x)))
        y = self.hs(self.pw_bn(self.pw(y)))
        y = self.pool(y)
        s = self.side(x)
        z = torch.cat([y + s, s], 1)
        z = torch.flatten(self.gap(z), 1)
        return self.fc2(self.fc_relu(self.fc1(z)))


class ResNetTiny(nn.Module):
    """Two basic blocks (one with a strided downsample), ConvBnReLU fusions."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 8, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(8)
        self.relu = nn.ReLU()
        self.c2 = nn.Conv2d(8, 16, 3, stride=2, padding=1, bias=False)
        self.b2 = nn.BatchNorm2d(16)
        self.r2 = nn.ReLU()
        self.c3 = nn.Conv2d(16, 16, 3, padding=1, bias=False)
        self.b3 = nn.BatchNorm2d(16)
        self.down = nn.Sequential(nn.Conv2d(8, 16, 1, stride=2, bias=False), nn.BatchNorm2d(16))
        self.r3 = nn.ReLU()
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(16, 10)

    def forward(self, x):
        x = self.relu(self.bn1(self.conv1(x)))
        y = self.r2(self.b2(self.c2(x)))
        y = self.b3(self.c3(y))
        y = self.r3(y + self.down(x))
        return self.fc(torch.flatten(self.avgpool(y), 1))


class DeconvNet(nn.Module):
    """ConvTranspose + ReLU and a padded ConvTranspose (MQBench's qnnqat module;
    torch 1.13 cannot fuse ConvTranspose with BN for QAT), Linear-BN1d
    (qnniqat.LinearBn1d), a Hardswish and a global pool."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, stride=2, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(8)
        self.relu = nn.ReLU()
        self.up = nn.ConvTranspose2d(8, 6, 2, stride=2, bias=True)
        self.up_relu = nn.ReLU()
        self.up2 = nn.ConvTranspose2d(6, 4, 3, stride=1, padding=1, bias=False)
        self.hs = nn.Hardswish()
        self.gap = nn.AdaptiveAvgPool2d(1)
        self.fc1 = nn.Linear(4, 12)
        self.fc1_bn = nn.BatchNorm1d(12)
        self.fc_relu = nn.ReLU()
        self.fc2 = nn.Linear(12, 10)

    def forward(self, x):
        x = self.relu(self.bn(self.conv(x)))
        x = self.up_relu(self.up(x))
        x = self.hs(self.up2(x))
        x = torch.flatten(self.gap(x), 1)
        return self.fc2(self.fc_relu(self.fc1_bn(self.fc1(x))))


class AttrNet(nn.Module):
    """Parameters read by get_attr (a per-channel gain and bias), a size-driven
    view, a mean and a functional relu."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, stride=2, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(8)
        self.relu = nn.ReLU()
        self.gain = nn.Parameter(torch.rand(1, 8, 1, 1) + 0.5)
        self.shift = nn.Parameter(torch.randn(1, 8, 1, 1) * 0.1)
        self.fc = nn.Linear(8, 10)

    def forward(self, x):
        x = self.relu(self.bn(self.conv(x)))
        x = x * self.gain + self.shift
        x = F.relu(x)
        x = x.view(x.size(0), x.size(1), -1).mean(2)
        return self.fc(x)


class OpsNet(nn.Module):
    """Functions and methods: chunk, getitem with slices, sigmoid gating, cat,
    bilinear interpolate, Upsample, PReLU, AvgPool, functional adaptive pool,
    transpose / contiguous / view, matmul, softmax, scalar arithmetic."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(3, 8, 3, padding=1, bias=False)
        self.stem_bn = nn.BatchNorm2d(8)
        self.act = nn.ReLU()
        self.gate = nn.Conv2d(8, 8, 1)
        self.prelu = nn.PReLU(8)
        self.avg = nn.AvgPool2d(2, stride=2)
        self.up = nn.Upsample(scale_factor=2.0, mode='nearest')
        self.hs = nn.Hardswish()
        self.proj = nn.Conv2d(16, 8, 1)
        self.fc = nn.Linear(8, 10)

    def forward(self, x):
        x = self.act(self.stem_bn(self.stem(x)))
        x = x * torch.sigmoid(self.gate(x))
        x = self.prelu(x)
        ab = torch.chunk(x, 2, dim=1)
        x = torch.cat((ab[1], ab[0], x[:, :0]), 1)
        x = self.up(self.avg(x))
        y = F.interpolate(x, scale_factor=0.5, mode='bilinear', align_corners=False)
        x = torch.cat([y, self.hs(y)], dim=1)
        x = self.proj(x)
        n, c = x.size(0), x.size(1)
        t = x.view(n, c, -1).transpose(1, 2).contiguous()
        att = torch.softmax(torch.matmul(t, t.transpose(1, 2)) * 0.125, dim=-1)
        t = torch.matmul(att, t).mean(1)
        z = F.adaptive_avg_pool2d(x, 1).flatten(1)
        return self.fc(t + z / 2)


class PlainNet(nn.Module):
    """No BN: Conv+ReLU (nniqat.ConvReLU2d), a strided Conv alone, Linear."""

    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv2d(3, 6, 3, padding=1)
        self.r1 = nn.ReLU()
        self.c2 = nn.Conv2d(6, 10, 3, stride=2, padding=1, bias=False)
        self.r2 = nn.ReLU()
        self.c3 = nn.Conv2d(10, 10, 1, groups=2)
        self.gap = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(10, 10)

    def forward(self, x):
        x = self.r1(self.c1(x))
        x = self.r2(self.c2(x))
        x = self.c3(x) + x
        return self.fc(torch.flatten(self.gap(x), 1))


MODELS = {'plainnet': PlainNet, 'opsnet': OpsNet, 'attrnet': AttrNet, 'deconvnet': DeconvNet, 'mixnet': MixNet, 'resnettiny': ResNetTiny}


# ---- qgraph writer (the attribute spellings of qprep's tracer) ----

def fmt(v):
    if isinstance(v, torch.fx.Node):
        return '%' + v.name
    if isinstance(v, bool) or v is None:
        return repr(v)
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return repr(v) if math.isfinite(v) else ('inf' if v > 0 else '-inf' if v < 0 else 'nan')
    if isinstance(v, str):
        return '"' + v.replace('\\', '\\\\').replace('"', '\\"') + '"'
    if isinstance(v, tuple):
        return '(' + ', '.join(fmt(x) for x in v) + (',)' if len(v) == 1 else ')')
    if isinstance(v, list):
        return '[' + ', '.join(fmt(x) for x in v) + ']'
    if isinstance(v, dict):
        return '{' + ', '.join('%s: %s' % (k, fmt(x)) for k, x in v.items()) + '}'
    if isinstance(v, slice):
        return 'slice(%s, %s, %s)' % (fmt(v.start), fmt(v.stop), fmt(v.step))
    raise ValueError('cannot write %r' % (v,))


def attrs(m):
    t = type(m).__name__
    if isinstance(m, (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.ConvTranspose2d)):
        a = dict(in_channels=m.in_channels, out_channels=m.out_channels,
                 kernel_size=tuple(m.kernel_size), stride=tuple(m.stride),
                 padding=m.padding if isinstance(m.padding, str) else tuple(m.padding),
                 dilation=tuple(m.dilation), groups=m.groups, padding_mode=m.padding_mode,
                 output_padding=tuple(m.output_padding), bias=m.bias is not None,
                 weight_shape=tuple(m.weight.shape))
    elif isinstance(m, nn.modules.batchnorm._BatchNorm):
        a = dict(num_features=m.num_features, eps=m.eps, momentum=m.momentum, affine=m.affine,
                 track_running_stats=m.track_running_stats, bias=m.bias is not None,
                 weight_shape=tuple(m.weight.shape))
    elif isinstance(m, nn.Linear):
        a = dict(in_features=m.in_features, out_features=m.out_features, bias=m.bias is not None,
                 weight_shape=tuple(m.weight.shape))
    elif isinstance(m, nn.ReLU6):
        a = dict(inplace=m.inplace, min_val=m.min_val, max_val=m.max_val)
    elif isinstance(m, (nn.ReLU, nn.Hardswish)):
        a = dict(inplace=m.inplace)
    elif isinstance(m, nn.MaxPool2d):
        a = dict(kernel_size=m.kernel_size, stride=m.stride, padding=m.padding,
                 dilation=m.dilation, ceil_mode=m.ceil_mode, return_indices=m.return_indices)
    elif isinstance(m, nn.AdaptiveAvgPool2d):
        a = dict(output_size=m.output_size)
    elif isinstance(m, nn.AvgPool2d):
        a = dict(kernel_size=m.kernel_size, stride=m.stride, padding=m.padding,
                 ceil_mode=m.ceil_mode, count_include_pad=m.count_include_pad)
    elif isinstance(m, nn.Upsample):
        a = dict(scale_factor=m.scale_factor, mode=m.mode, align_corners=m.align_corners)
    elif isinstance(m, nn.PReLU):
        a = dict(num_parameters=m.num_parameters, weight_shape=tuple(m.weight.shape))
    else:
        raise ValueError('no attribute writer for ' + t)
    return 'nn.' + t, a


def write_qgraph(gm, name):
    mods = dict(gm.named_modules())
    lines = ['qgraph 1', '# model ' + name, '# traced by MQBench CustomedTracer (torch 1.13)']
    seen = set()
    for n in gm.graph.nodes:
        if n.op == 'call_module' and n.target not in seen:
            seen.add(n.target)
            t, a = attrs(mods[n.target])
            lines.append('module %s %s %s' % (n.target, t, fmt(a)))
    for n in gm.graph.nodes:
        if n.op == 'get_attr' and n.target not in seen:
            seen.add(n.target)
            t = gm.get_parameter(n.target) if n.target in dict(gm.named_parameters()) \
                else gm.get_buffer(n.target)
            lines.append('attr %s %s' % (n.target, fmt(dict(shape=tuple(t.shape)))))
    for n in gm.graph.nodes:
        if n.op == 'call_function':
            tgt = n.target
            mod = getattr(tgt, '__module__', None) or ''
            if mod == '_operator':
                mod = 'operator'
            if mod.startswith('torch') and hasattr(torch, tgt.__name__) and \
                    getattr(torch, tgt.__name__) is tgt:
                mod = 'torch'
            target = mod + '.' + tgt.__name__
        else:
            target = n.target
        lines.append('%%%s = %s %s %s %s' % (n.name, n.op, target, fmt(tuple(n.args)),
                                              fmt(dict(n.kwargs))))
    return '\n'.join(lines) + '\n'


# ---- the protocol (tests/data/e2e/*.qat.md) ----

def pretrain_bn(model):
    for m in model.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            with torch.no_grad():
                m.weight.uniform_(0.5, 1.5)
                m.bias.normal_(0, 0.1)
                m.running_mean.normal_(0, 0.2)
                m.running_var.uniform_(0.5, 2.0)
                m.num_batches_tracked.fill_(100)


def main(argv):
    model_name, backend, seed, out = argv[1], argv[2], int(argv[3]), argv[4]
    bn, hw = (int(argv[5]), int(argv[6])) if len(argv) > 6 else (8, 32)
    shape = (bn, 3, hw, hw)
    shim()
    from mqbench.prepare_by_platform import prepare_by_platform, BackendType
    import mqbench.custom_quantizer.model_quantizer as mq_mq
    swap = mq_mq.swap_module
    mq_mq.swap_module = lambda mod, mapping, custom, *rest: swap(mod, mapping, custom)
    from mqbench.utils.state import enable_calibration, enable_quantization
    from mqbench.prepare_by_platform import CustomedTracer
    torch.set_num_threads(1)
    torch.manual_seed(seed)
    model = MODELS[model_name]().train()
    pretrain_bn(model)
    float_state = {k: v.clone() for k, v in model.state_dict().items()}
    graph = CustomedTracer().trace(model)
    gm = torch.fx.GraphModule(model, graph)
    with open('%s/%s.in.qg' % (out, model_name), 'w') as f:
        f.write(write_qgraph(gm, model_name))
    qmodel = prepare_by_platform(copy.deepcopy(model), getattr(BackendType, backend), {})
    qmodel.train()

    def gen(s):
        g = torch.Generator()
        g.manual_seed(s)
        return g
    g1 = gen(seed + 1)
    calib = [torch.randn(shape, generator=g1) for _ in range(2)]
    g2 = gen(seed + 2)
    train_x = torch.randn(shape, generator=g2)
    train_y = torch.randint(0, 10, (bn,), dtype=torch.int64, generator=g2)
    eval_x = torch.randn(shape, generator=gen(seed + 3))

    enable_calibration(qmodel)
    with torch.no_grad():
        calib_logits = [qmodel(x).clone() for x in calib]
    state_after_calib = {k: v.clone() for k, v in qmodel.state_dict().items()}
    enable_quantization(qmodel)
    qat_logits = qmodel(train_x)
    loss = F.cross_entropy(qat_logits, train_y)
    loss.backward()
    qat_grads = {k: p.grad.clone() for k, p in qmodel.named_parameters() if p.grad is not None}
    opt = torch.optim.SGD(qmodel.parameters(), lr=0.01)
    opt.step()
    with torch.no_grad():
        step_logits = qmodel(eval_x).clone()
    state_after_step = {k: v.clone() for k, v in qmodel.state_dict().items()}
    qmodel.eval()
    with torch.no_grad():
        eval_logits = qmodel(eval_x).clone()
    torch.save(dict(float_state=float_state, calib=calib, calib_logits=calib_logits,
                    train_x=train_x, train_y=train_y, eval_x=eval_x,
                    state_after_calib=state_after_calib, qat_logits=qat_logits.detach(),
                    qat_loss=loss.detach(), qat_grads=qat_grads, state_after_step=state_after_step,
                    step_logits=step_logits, eval_logits=eval_logits),
               '%s/%s.%s.qat.pt' % (out, model_name, backend))
    print('%s.%s: %d params, %d state entries' % (model_name, backend, len(qat_grads),
                                                    len(state_after_step)))


if __name__ == '__main__':
    main(sys.argv)
