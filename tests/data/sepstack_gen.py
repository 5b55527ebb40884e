# Issue 13's generator of a residual stack with separate ReLU modules (copied as
# filed; `python3 sepstack_gen.py N > out.qg`): what `qprep gen --nodes N --layout
# separate` must reproduce (tests/examples/gen_separate.cmake compares the two).
import sys, random
nodes = int(float(sys.argv[1])); random.seed(7)
blocks = (nodes - 3) // 8
out = ["qgraph 1", "# model sepstack"]
def conv(p, ci, co):
    return "module %s nn.Conv2d {in_channels: %d, out_channels: %d, kernel_size: (3, 3), stride: (1, 1), padding: (1, 1), dilation: (1, 1), groups: 1, padding_mode: \"zeros\", output_padding: (0, 0), bias: False, weight_shape: (%d, %d, 3, 3)}" % (p, ci, co, co, ci)
def bn(p, c):
    return "module %s nn.BatchNorm2d {num_features: %d, eps: 1e-05, momentum: 0.1, affine: True, track_running_stats: True, bias: True, weight_shape: (%d,)}" % (p, c, c)
chs = [random.choice([4, 8, 16, 32, 64, 128, 256, 512]) for _ in range(blocks)]
mods = [conv("stem", 3, chs[0])]
nl = ["%x = placeholder x () {}", "%stem = call_module stem (%x,) {}"]
prev = "stem"
for b in range(blocks):
    c = chs[b]
    p = "layers.%d" % b
    mods += [conv(p+".conv1", c, c), bn(p+".bn1", c), "module %s.relu1 nn.ReLU {inplace: True}" % p, conv(p+".conv2", c, c), bn(p+".bn2", c), "module %s.relu2 nn.ReLU {inplace: True}" % p]
    if b + 1 < blocks and chs[b+1] != c:
        mods.append(conv(p+".proj", c, chs[b+1]))
    q = "layers_%d" % b
    nl += ["%%%s_conv1 = call_module %s.conv1 (%%%s,) {}" % (q, p, prev),
           "%%%s_bn1 = call_module %s.bn1 (%%%s_conv1,) {}" % (q, p, q),
           "%%%s_relu1 = call_module %s.relu1 (%%%s_bn1,) {}" % (q, p, q),
           "%%%s_conv2 = call_module %s.conv2 (%%%s_relu1,) {}" % (q, p, q),
           "%%%s_bn2 = call_module %s.bn2 (%%%s_conv2,) {}" % (q, p, q),
           "%%add_%d = call_function operator.add (%%%s_bn2, %%%s) {}" % (b, q, prev),
           "%%%s_relu2 = call_module %s.relu2 (%%add_%d,) {}" % (q, p, b)]
    prev = q + "_relu2"
    if b + 1 < blocks and chs[b+1] != c:
        nl.append("%%%s_proj = call_module %s.proj (%%%s,) {}" % (q, p, prev)); prev = q + "_proj"
nl.append("%%output = output output (%%%s,) {}" % prev)
sys.stdout.write("\n".join(out + mods + nl) + "\n")
