"""The catalogue: well-known architectures as lists of layer records.

Each :class:`Entry` holds the spec (one or more towers of layer records), the parameter
figure the original paper prints (with its citation, as printed: often rounded), an
optional reference count from a widely used implementation (torchvision, timm, Hugging
Face, the authors' code) for papers that round or print none, and `paper_exact`: whether
the spec follows the paper layer for layer (if not, `note` says what differs).

Every number the bestiary reports (parameters, MACs, dot lengths, bounds) is computed from
the spec; the only numbers typed in here are the published figures compared against.
Which published figure a test compares with is `Entry.compare_figure()`: the reference
count where one is given (exact counts beat rounded ones), otherwise the paper's.
"""
from __future__ import annotations

from dataclasses import dataclass

from fpsem.errors import FpsemError

from .layers import (ASPPModule, BatchNorm, BottleneckBlock, Conv1d, Conv2d, ConvBN,
                     ConvNeXtBlock, ConvTranspose2d, DeepLabDecoder, Dense, DenseBlock,
                     Embedding, FireModule, Flatten, GlobalAvgPool, InceptionModule,
                     InvertedResidual, LayerNorm, MambaBlock, MaxPool, MBConv, MobileViTBlock,
                     NerfMLP, Parallel, Parameter, PartialConv2d, PatchEmbed, PatchMerging,
                     PositionalEncoding, RBFOutput, Reshape, ResidualBlock, SeparableConv,
                     ShuffleUnit, Subsample, SwinStage, TokenPool, TransformerDecoder,
                     TransformerEncoder, TransitionLayer, UNetDown, UNetUp, XceptionBlock,
                     run_seq)


@dataclass(frozen=True)
class Tower:
    name: str
    input_shape: tuple
    layers: tuple

    def params(self):
        return sum(l.params() for l in self.layers)


@dataclass(frozen=True)
class Entry:
    name: str
    towers: tuple
    citation: str
    paper_params: int | None          # as printed in the paper (None: the paper gives none)
    paper_params_text: str            # how the paper prints it, with where
    reference_params: int | None = None
    reference_source: str = ""
    paper_exact: bool = True
    note: str = ""                    # what is approximate, or how the figures relate
    tolerance: float = 0.02
    input_note: str = ""
    aliases: tuple = ()

    def params(self):
        return sum(t.params() for t in self.towers)

    def macs(self):
        return sum(run_seq(t.layers, t.input_shape).macs for t in self.towers)

    def compare_figure(self):
        """(figure, source) that the computed count is checked against, or (None, why)."""
        if self.reference_params is not None:
            return self.reference_params, self.reference_source
        if self.paper_params is not None:
            return self.paper_params, "paper"
        return None, "no published count"


def _tower(input_shape, layers, name="main"):
    return (Tower(name, tuple(input_shape), tuple(layers)),)


# ------------------------------------------------------------------------ builders

def lenet5():
    # C3 connection table (LeCun et al. 1998, Table I): 6 maps see 3 inputs, 9 see 4, 1 sees 6
    return [Conv2d(1, 6, 5, pad=0, label="C1"), Subsample(6, label="S2"),
            PartialConv2d(6, (3,) * 6 + (4,) * 9 + (6,), 5, label="C3"), Subsample(16, label="S4"),
            Conv2d(16, 120, 5, pad=0, label="C5"), Flatten(), Dense(120, 84, label="F6"),
            RBFOutput(84, 10, label="output")]


def alexnet():
    # the two-GPU original: conv2, conv4, conv5 are split in two groups
    return [Conv2d(3, 96, 11, 4, pad=0), MaxPool(3, 2), Conv2d(96, 256, 5, pad=2, groups=2),
            MaxPool(3, 2), Conv2d(256, 384, 3), Conv2d(384, 384, 3, groups=2),
            Conv2d(384, 256, 3, groups=2), MaxPool(3, 2), Flatten(),
            Dense(9216, 4096), Dense(4096, 4096), Dense(4096, 1000)]


_VGG = {11: [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
        13: [64, 64, "M", 128, 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
        16: [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"],
        19: [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M",
             512, 512, 512, 512, "M"]}


def vgg(depth):
    out, c = [], 3
    for v in _VGG[depth]:
        if v == "M":
            out.append(MaxPool(2))
        else:
            out.append(Conv2d(c, v, 3))
            c = v
    return out + [Flatten(), Dense(25088, 4096), Dense(4096, 4096), Dense(4096, 1000)]


def resnet_body(blocks, bottleneck, bn_trainable=True, dilate_last=False):
    out = [ConvBN(3, 64, 7, 2, pad=3, bn_trainable=bn_trainable, label="stem"), MaxPool(3, 2, 1)]
    c = 64
    for i, (n, w) in enumerate(zip(blocks, (64, 128, 256, 512))):
        for j in range(n):
            s = 2 if (j == 0 and i > 0) else 1
            lab = f"conv{i + 2}_{j + 1}"
            if bottleneck:
                dil = 2 if (dilate_last and i == 3) else 1
                if dilate_last and i == 3:
                    s = 1
                out.append(BottleneckBlock(c, w, 4 * w, s, dil, bn_trainable, label=lab))
                c = 4 * w
            else:
                out.append(ResidualBlock(c, w, s, label=lab))
                c = w
    return out, c


def resnet(blocks, bottleneck):
    body, c = resnet_body(blocks, bottleneck)
    return body + [GlobalAvgPool(), Dense(c, 1000)]


def wrn(depth=28, k=10, classes=10):
    n = (depth - 4) // 6
    out, c = [Conv2d(3, 16, 3, bias=False)], 16
    for i, w in enumerate((16 * k, 32 * k, 64 * k)):
        for j in range(n):
            out.append(ResidualBlock(c, w, 2 if (j == 0 and i > 0) else 1, norm="preact",
                                     label=f"group{i + 1}_{j + 1}"))
            c = w
    return out + [BatchNorm(c), GlobalAvgPool(), Dense(c, classes)]


def squeezenet(version):
    mp = MaxPool(3, 2, ceil=True)
    if version == "1.0":
        return [Conv2d(3, 96, 7, 2, pad=0), mp, FireModule(96, 16, 64, 64), FireModule(128, 16, 64, 64),
                FireModule(128, 32, 128, 128), mp, FireModule(256, 32, 128, 128),
                FireModule(256, 48, 192, 192), FireModule(384, 48, 192, 192),
                FireModule(384, 64, 256, 256), mp, FireModule(512, 64, 256, 256),
                Conv2d(512, 1000, 1, pad=0), GlobalAvgPool()]
    return [Conv2d(3, 64, 3, 2, pad=0), mp, FireModule(64, 16, 64, 64), FireModule(128, 16, 64, 64),
            mp, FireModule(128, 32, 128, 128), FireModule(256, 32, 128, 128), mp,
            FireModule(256, 48, 192, 192), FireModule(384, 48, 192, 192),
            FireModule(384, 64, 256, 256), FireModule(512, 64, 256, 256),
            Conv2d(512, 1000, 1, pad=0), GlobalAvgPool()]


def googlenet():
    mp = MaxPool(3, 2, ceil=True)
    I = InceptionModule
    return [Conv2d(3, 64, 7, 2, pad=3), mp, Conv2d(64, 64, 1, pad=0), Conv2d(64, 192, 3), mp,
            I(192, 64, 96, 128, 16, 32, 32, label="3a"), I(256, 128, 128, 192, 32, 96, 64, label="3b"), mp,
            I(480, 192, 96, 208, 16, 48, 64, label="4a"), I(512, 160, 112, 224, 24, 64, 64, label="4b"),
            I(512, 128, 128, 256, 24, 64, 64, label="4c"), I(512, 112, 144, 288, 32, 64, 64, label="4d"),
            I(528, 256, 160, 320, 32, 128, 128, label="4e"), mp,
            I(832, 256, 160, 320, 32, 128, 128, label="5a"), I(832, 384, 192, 384, 48, 128, 128, label="5b"),
            GlobalAvgPool(), Dense(1024, 1000)]


def xception():
    out = [ConvBN(3, 32, 3, 2, pad=0), ConvBN(32, 64, 3, pad=0),
           XceptionBlock(64, 128, 2, 2, label="entry1"), XceptionBlock(128, 256, 2, 2, label="entry2"),
           XceptionBlock(256, 728, 2, 2, label="entry3")]
    out += [XceptionBlock(728, 728, 3, 1, label=f"middle{i + 1}") for i in range(8)]
    return out + [XceptionBlock(728, 1024, 2, 2, grow_first=False, label="exit"),
                  SeparableConv(1024, 1536), SeparableConv(1536, 2048), GlobalAvgPool(),
                  Dense(2048, 1000)]


def densenet(blocks, growth=32, init=64):
    out, c = [ConvBN(3, init, 7, 2, pad=3), MaxPool(3, 2, 1)], init
    for i, n in enumerate(blocks):
        out.append(DenseBlock(c, n, growth, label=f"block{i + 1}"))
        c += n * growth
        if i != len(blocks) - 1:
            out.append(TransitionLayer(c, c // 2, label=f"transition{i + 1}"))
            c //= 2
    return out + [BatchNorm(c), GlobalAvgPool(), Dense(c, 1000)]


def mobilenet_v2():
    out, c = [ConvBN(3, 32, 3, 2)], 32
    for t, w, n, s in ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1),
                       (6, 160, 3, 2), (6, 320, 1, 1)):
        for j in range(n):
            out.append(InvertedResidual(c, w, t, s if j == 0 else 1))
            c = w
    return out + [ConvBN(c, 1280, 1, pad=0), GlobalAvgPool(), Dense(1280, 1000)]


def efficientnet_b0():
    out, c = [ConvBN(3, 32, 3, 2)], 32
    for t, k, s, w, n in ((1, 3, 1, 16, 1), (6, 3, 2, 24, 2), (6, 5, 2, 40, 2), (6, 3, 2, 80, 3),
                          (6, 5, 1, 112, 3), (6, 5, 2, 192, 4), (6, 3, 1, 320, 1)):
        for j in range(n):
            out.append(MBConv(c, w, t, k, s if j == 0 else 1))
            c = w
    return out + [ConvBN(c, 1280, 1, pad=0), GlobalAvgPool(), Dense(1280, 1000)]


def shufflenet_v2():
    out, c = [ConvBN(3, 24, 3, 2), MaxPool(3, 2, 1)], 24
    for w, n in ((116, 4), (232, 8), (464, 4)):
        out.append(ShuffleUnit(c, w, 2))
        out += [ShuffleUnit(w, w, 1) for _ in range(n - 1)]
        c = w
    return out + [ConvBN(c, 1024, 1, pad=0), GlobalAvgPool(), Dense(1024, 1000)]


def convnext_t():
    dims, depths = (96, 192, 384, 768), (3, 3, 9, 3)
    out = [Conv2d(3, 96, 4, 4, pad=0, label="stem"), LayerNorm(96)]
    for i, (d, n) in enumerate(zip(dims, depths)):
        if i:
            out += [LayerNorm(dims[i - 1]), Conv2d(dims[i - 1], d, 2, 2, pad=0, label="downsample")]
        out += [ConvNeXtBlock(d, label=f"stage{i + 1}_{j + 1}") for j in range(n)]
    return out + [GlobalAvgPool(), LayerNorm(768), Dense(768, 1000)]


def vit(dim, depth, heads, patch=16, img=224, classes=1000):
    n = (img // patch) ** 2 + 1
    return [PatchEmbed(3, dim, patch, cls_token=True), PositionalEncoding(n, dim),
            TransformerEncoder(dim, heads, 4 * dim, depth, final_norm=True), TokenPool("cls"),
            Dense(dim, classes)]


def swin_t():
    out = [PatchEmbed(3, 96, 4), LayerNorm(96)]
    c = 96
    for i, (n, h) in enumerate(zip((2, 2, 6, 2), (3, 6, 12, 24))):
        if i:
            out.append(PatchMerging(c))
            c *= 2
        out.append(SwinStage(c, n, h, label=f"stage{i + 1}"))
    return out + [LayerNorm(c), TokenPool("mean"), Dense(c, 1000)]


def mobilevit_s():
    IR = InvertedResidual
    return [ConvBN(3, 16, 3, 2), IR(16, 32, 4), IR(32, 64, 4, 2), IR(64, 64, 4), IR(64, 64, 4),
            IR(64, 96, 4, 2), MobileViTBlock(96, 144, 2), IR(96, 128, 4, 2),
            MobileViTBlock(128, 192, 4), IR(128, 160, 4, 2), MobileViTBlock(160, 240, 3),
            ConvBN(160, 640, 1, pad=0), GlobalAvgPool(), Dense(640, 1000)]


def unet():
    return [UNetDown(1, 64, pool=False), UNetDown(64, 128), UNetDown(128, 256), UNetDown(256, 512),
            UNetDown(512, 1024), UNetUp(1024, 512), UNetUp(512, 256), UNetUp(256, 128),
            UNetUp(128, 64), Conv2d(64, 2, 1, pad=0)]


def deeplab_v3plus():
    body, c = resnet_body((3, 4, 23, 3), True, dilate_last=True)
    return body + [ASPPModule(c, 256, (6, 12, 18)), DeepLabDecoder(256, 256, 21)]


def yolo_v1():
    out, c = [], 3

    def conv(co, k, s=1):
        nonlocal c
        out.append(Conv2d(c, co, k, s))
        c = co
    conv(64, 7, 2); out.append(MaxPool(2))
    conv(192, 3); out.append(MaxPool(2))
    conv(128, 1); conv(256, 3); conv(256, 1); conv(512, 3); out.append(MaxPool(2))
    for _ in range(4):
        conv(256, 1); conv(512, 3)
    conv(512, 1); conv(1024, 3); out.append(MaxPool(2))
    for _ in range(2):
        conv(512, 1); conv(1024, 3)
    conv(1024, 3); conv(1024, 3, 2); conv(1024, 3); conv(1024, 3)
    return out + [Flatten(), Dense(7 * 7 * 1024, 4096), Dense(4096, 7 * 7 * 30)]


def detr_r50():
    body, c = resnet_body((3, 4, 6, 3), True, bn_trainable=False)
    enc = body + [Conv2d(c, 256, 1, pad=0, label="input_proj"), Reshape((-1, 256)),
                  PositionalEncoding(10 ** 6, 256, learned=False),
                  TransformerEncoder(256, 8, 2048, 6, qkv_bias=True, label="encoder")]
    img = (3, 800, 1333)
    memory = run_seq(enc, img).out[0]
    dec = [Parameter(100 * 256, "query_embed"),
           TransformerDecoder(256, 8, 2048, memory, 6, final_norm=True, label="decoder"),
           Parallel("heads", ((Dense(256, 92, label="class"),),
                              (Dense(256, 256), Dense(256, 256), Dense(256, 4))), label="heads")]
    return (Tower("backbone+encoder", img, tuple(enc)), Tower("decoder", (100, 256), tuple(dec)))


def sam_vit_b():
    out = [PatchEmbed(3, 768, 16), PositionalEncoding(64 * 64, 768)]
    for g in range(4):
        out.append(TransformerEncoder(768, 12, 3072, 2, window=14, rel_pos=14, label=f"blocks{3 * g}-{3 * g + 1}"))
        out.append(TransformerEncoder(768, 12, 3072, 1, rel_pos=64, label=f"block{3 * g + 2}(global)"))
    return out + [Reshape((768, 64, 64)), Conv2d(768, 256, 1, pad=0, bias=False, label="neck"),
                  LayerNorm(256), Conv2d(256, 256, 3, bias=False), LayerNorm(256)]


def dcgan():
    return [Dense(100, 4 * 4 * 1024, label="project"), Reshape((1024, 4, 4)), BatchNorm(1024),
            ConvTranspose2d(1024, 512, 5, 2, 2, 1, bias=False), BatchNorm(512),
            ConvTranspose2d(512, 256, 5, 2, 2, 1, bias=False), BatchNorm(256),
            ConvTranspose2d(256, 128, 5, 2, 2, 1, bias=False), BatchNorm(128),
            ConvTranspose2d(128, 3, 5, 2, 2, 1)]


def cyclegan():
    return ([Conv2d(3, 64, 7, pad=3, label="c7s1-64"), Conv2d(64, 128, 3, 2, label="d128"),
             Conv2d(128, 256, 3, 2, label="d256")]
            + [ResidualBlock(256, 256, norm="none", conv_bias=True, label=f"R256_{i + 1}") for i in range(9)]
            + [ConvTranspose2d(256, 128, 3, 2, 1, 1, label="u128"), ConvTranspose2d(128, 64, 3, 2, 1, 1, label="u64"),
               Conv2d(64, 3, 7, pad=3, label="c7s1-3")])


def alphago_zero(blocks=39):
    return ([ConvBN(17, 256, 3, label="conv")]
            + [ResidualBlock(256, 256, label=f"res{i + 1}") for i in range(blocks)]
            + [Parallel("heads", (
                (ConvBN(256, 2, 1, pad=0), Flatten(), Dense(2 * 361, 362, label="policy")),
                (ConvBN(256, 1, 1, pad=0), Flatten(), Dense(361, 256), Dense(256, 1, label="value"))),
                label="policy+value heads")])


def bert_base():
    return [Embedding(30522, 768), PositionalEncoding(512, 768),
            Parameter(2 * 768, "token_type_embeddings"), LayerNorm(768),
            TransformerEncoder(768, 12, 3072, 12), TokenPool("cls"), Dense(768, 768, label="pooler")]


def gpt2_small():
    return [Embedding(50257, 768), PositionalEncoding(1024, 768),
            TransformerEncoder(768, 12, 3072, 12, causal=True, final_norm=True),
            Dense(768, 50257, bias=False, tied=True, label="lm_head (tied)")]


def mamba_130m():
    return [Embedding(50280, 768), MambaBlock(768, 24), LayerNorm(768, rms=True),
            Dense(768, 50280, bias=False, tied=True, label="lm_head (tied)")]


def whisper_small_encoder():
    return [Conv1d(80, 768, 3, pad=1), Conv1d(768, 768, 3, 2, pad=1), Reshape((-1, 768)),
            PositionalEncoding(1500, 768, learned=False),
            TransformerEncoder(768, 12, 3072, 12, k_bias=False, final_norm=True)]


def nerf():
    return [NerfMLP(64, label="coarse"), NerfMLP(64 + 128, label="fine")]


def clip_vit_b32():
    img = [PatchEmbed(3, 768, 32, cls_token=True, bias=False), PositionalEncoding(50, 768),
           LayerNorm(768, label="ln_pre"), TransformerEncoder(768, 12, 3072, 12, final_norm=True),
           TokenPool("cls"), Dense(768, 512, bias=False, label="proj")]
    txt = [Embedding(49408, 512), PositionalEncoding(77, 512),
           TransformerEncoder(512, 8, 2048, 12, causal=True, final_norm=True),
           TokenPool("cls", label="eot token"), Dense(512, 512, bias=False, label="text_projection"),
           Parameter(1, "logit_scale")]
    return (Tower("image", (3, 224, 224), tuple(img)), Tower("text", (77,), tuple(txt)))


# ------------------------------------------------------------------------ the entries

TV = "torchvision (pytorch/vision) model, sum of p.numel() over parameters()"
HE = ("He, Zhang, Ren, Sun, 'Deep Residual Learning for Image Recognition', CVPR 2016 "
      "(Table 1 gives FLOPs, no ImageNet parameter counts)")
VGGC = ("Simonyan & Zisserman, 'Very Deep Convolutional Networks for Large-Scale Image "
        "Recognition', ICLR 2015, Table 2")
DN = ("Huang, Liu, van der Maaten, Weinberger, 'Densely Connected Convolutional Networks', "
      "CVPR 2017 (no ImageNet parameter table)")
IMG = (3, 224, 224)


def _build():
    E = Entry
    es = [
        E("LeNet-5", _tower((1, 32, 32), lenet5()),
          "LeCun, Bottou, Bengio, Haffner, 'Gradient-Based Learning Applied to Document "
          "Recognition', Proc. IEEE 86(11), 1998, Sec. II-B",
          60_000, "60,000 trainable parameters",
          note="C3's partial connection table and the trainable S2/S4 coefficients are modelled; "
               "the RBF output weights are fixed by hand in the paper, so not counted"),
        E("AlexNet", _tower((3, 227, 227), alexnet()),
          "Krizhevsky, Sutskever, Hinton, 'ImageNet Classification with Deep Convolutional "
          "Neural Networks', NeurIPS 2012, Sec. 1 and 3",
          60_000_000, "60 million parameters",
          note="the two-GPU original (conv2/4/5 grouped); torchvision's single-tower variant "
               "has 61,100,840; 227x227 input makes the paper's 224 arithmetic consistent"),
        *[E(f"VGG-{d}", _tower(IMG, vgg(d)), VGGC, fig, f"{fig // 10 ** 6}M (Table 2)",
            ref, TV) for d, fig, ref in ((11, 133_000_000, 132_863_336), (13, 133_000_000, 133_047_848),
                                         (16, 138_000_000, 138_357_544), (19, 144_000_000, 143_667_240))],
        *[E(f"ResNet-{d}", _tower(IMG, resnet(b, bott)), HE, None, "none (FLOPs only)", ref, TV,
            note="stride on the first 1x1 of a bottleneck as in the paper (torchvision v1.5 "
                 "moves it to the 3x3: same parameters, more MACs)" if bott else "")
          for d, b, bott, ref in ((18, (2, 2, 2, 2), False, 11_689_512),
                                  (34, (3, 4, 6, 3), False, 21_797_672),
                                  (50, (3, 4, 6, 3), True, 25_557_032),
                                  (101, (3, 4, 23, 3), True, 44_549_160),
                                  (152, (3, 8, 36, 3), True, 60_192_808))],
        E("WRN-28-10", _tower((3, 32, 32), wrn()),
          "Zagoruyko & Komodakis, 'Wide Residual Networks', BMVC 2016, Table 4 (CIFAR-10)",
          36_500_000, "36.5M", input_note="CIFAR-10, 32x32"),
        E("SqueezeNet 1.0", _tower(IMG, squeezenet("1.0")),
          "Iandola et al., 'SqueezeNet: AlexNet-level accuracy with 50x fewer parameters and "
          "<0.5MB model size', arXiv:1602.07360, 2016, Table 1",
          1_248_424, "1,248,424 (Table 1, total)"),
        E("SqueezeNet 1.1", _tower(IMG, squeezenet("1.1")),
          "Iandola et al. 2016; v1.1 from the authors' release (github.com/forresti/SqueezeNet, "
          "SqueezeNet_v1.1/README)", None, "none (not in the paper)", 1_235_496, TV),
        E("GoogLeNet", _tower(IMG, googlenet()),
          "Szegedy et al., 'Going Deeper with Convolutions', CVPR 2015, Table 1 (params column)",
          6_800_000, "about 6.8M (sum of Table 1's params column; auxiliary classifiers excluded)",
          tolerance=0.05,
          note="the paper's Table 1 prints per-layer counts rounded to K (apparently units of 1024) "
               "without biases; torchvision's BatchNorm variant has 6,624,904"),
        E("Xception", _tower((3, 299, 299), xception()),
          "Chollet, 'Xception: Deep Learning with Depthwise Separable Convolutions', CVPR 2017, Table 3",
          22_855_952, "22,855,952 (Table 3)"),
        *[E(f"DenseNet-{d}", _tower(IMG, densenet(b)), DN, None, "none", ref, TV)
          for d, b, ref in ((121, (6, 12, 24, 16), 7_978_856), (169, (6, 12, 32, 32), 14_149_480),
                            (201, (6, 12, 48, 32), 20_013_928))],
        E("MobileNet V2", _tower(IMG, mobilenet_v2()),
          "Sandler et al., 'MobileNetV2: Inverted Residuals and Linear Bottlenecks', CVPR 2018, Table 4",
          3_400_000, "3.4M", 3_504_872, TV,
          note="the paper's 3.4M is 3% below the count of its own Table 2 (torchvision agrees "
               "with the spec exactly); compared with torchvision"),
        E("EfficientNet-B0", _tower(IMG, efficientnet_b0()),
          "Tan & Le, 'EfficientNet: Rethinking Model Scaling for Convolutional Neural Networks', "
          "ICML 2019, Table 2", 5_300_000, "5.3M", 5_288_548, TV),
        E("ShuffleNet v2", _tower(IMG, shufflenet_v2()),
          "Ma, Zhang, Zheng, Sun, 'ShuffleNet V2: Practical Guidelines for Efficient CNN "
          "Architecture Design', ECCV 2018, Table 5 (1.0x)", 2_300_000, "2.3M", 2_278_604, TV),
        E("ConvNeXt-T", _tower(IMG, convnext_t()),
          "Liu et al., 'A ConvNet for the 2020s', CVPR 2022, Table 1", 28_000_000, "28M",
          28_589_128, TV, note="the paper rounds to 28M (the spec's exact 28,589,128 is 2.1% "
          "above it); compared with torchvision's exact count"),
        E("ViT-Tiny", _tower(IMG, vit(192, 12, 3)),
          "Touvron et al., 'Training data-efficient image transformers & distillation through "
          "attention' (DeiT-Ti), ICML 2021, Table 1", 5_000_000, "5M", 5_717_416,
          "timm vit_tiny_patch16_224", note="the paper rounds to 5M; compared with timm"),
        E("ViT-B/16", _tower(IMG, vit(768, 12, 12)),
          "Dosovitskiy et al., 'An Image is Worth 16x16 Words', ICLR 2021, Table 1 (ViT-Base)",
          86_000_000, "86M", 86_567_656, "timm vit_base_patch16_224", aliases=("ViT-B",)),
        E("Swin-T", _tower(IMG, swin_t()),
          "Liu et al., 'Swin Transformer: Hierarchical Vision Transformer using Shifted "
          "Windows', ICCV 2021, Table 1", 28_000_000, "28M", 28_288_354, "timm swin_tiny_patch4_window7_224"),
        E("MobileViT-S", _tower((3, 256, 256), mobilevit_s()),
          "Mehta & Rastegari, 'MobileViT: Light-weight, General-purpose, and Mobile-friendly "
          "Vision Transformer', ICLR 2022, Table 1 / Fig. 1", 5_600_000, "5.6M",
          input_note="256x256"),
        E("UNet", _tower((1, 572, 572), unet()),
          "Ronneberger, Fischer, Brox, 'U-Net: Convolutional Networks for Biomedical Image "
          "Segmentation', MICCAI 2015, Fig. 1", None, "none (the paper gives no count)",
          note="the paper's unpadded network, 1 input channel, 2 classes (572 -> 388)"),
        E("DeepLab v3+", _tower((3, 513, 513), deeplab_v3plus()),
          "Chen et al., 'Encoder-Decoder with Atrous Separable Convolution for Semantic Image "
          "Segmentation', ECCV 2018", None, "none",
          paper_exact=False,
          note="ResNet-101 backbone at output stride 16 (the paper's headline model uses a "
               "modified aligned Xception and separable ASPP/decoder convolutions); 21 classes; "
               "the decoder's stride-4 features are taken as 4x the stride-16 grid"),
        E("YOLOv1", _tower((3, 448, 448), yolo_v1()),
          "Redmon, Divvala, Girshick, Farhadi, 'You Only Look Once: Unified, Real-Time Object "
          "Detection', CVPR 2016, Fig. 3", None, "none",
          note="24 conv + 2 dense as in Fig. 3, biases, no BatchNorm; 7x7x30 output"),
        E("DETR-R50", detr_r50(),
          "Carion et al., 'End-to-End Object Detection with Transformers', ECCV 2020, Table 1",
          41_000_000, "41M",
          note="ResNet-50 with frozen BatchNorm (buffers, not parameters) as in the authors' "
               "code; 100 queries, 91+1 classes; MACs at 800x1333",
          input_note="800x1333 image"),
        E("SAM ViT-B encoder", _tower((3, 1024, 1024), sam_vit_b()),
          "Kirillov et al., 'Segment Anything', ICCV 2023 (gives 632M for the ViT-H image "
          "encoder; no ViT-B encoder count)", None, "none for ViT-B",
          note="12 blocks, windows of 14 with global attention in blocks 2, 5, 8, 11, "
               "decomposed relative positions, neck to 256 channels (segment_anything/build_sam.py)"),
        E("DCGAN", _tower((100,), dcgan()),
          "Radford, Metz, Chintala, 'Unsupervised Representation Learning with Deep "
          "Convolutional Generative Adversarial Networks', ICLR 2016, Fig. 1 (generator)",
          None, "none",
          note="the LSUN generator of Fig. 1 (100 -> 4x4x1024 -> 64x64x3, 5x5 kernels); "
               "discriminator not included"),
        E("CycleGAN", _tower((3, 256, 256), cyclegan()),
          "Zhu, Park, Isola, Efros, 'Unpaired Image-to-Image Translation using Cycle-Consistent "
          "Adversarial Networks', ICCV 2017, Appendix 7.2 (one generator)",
          None, "none", 11_378_000,
          "authors' code (junyanz/pytorch-CycleGAN-and-pix2pix) prints 'Total number of "
          "parameters : 11.378 M' for G_A (resnet_9blocks)",
          note="one 9-block generator for 256x256; InstanceNorm without affine terms; "
               "reflection padding"),
        E("AlphaGo Zero", _tower((17, 19, 19), alphago_zero()),
          "Silver et al., 'Mastering the game of Go without human knowledge', Nature 550, 2017, "
          "Methods (neural network architecture)", None, "none",
          note="the 40-block network (1 conv block + 39 residual blocks, 256 filters)"),
        E("BERT-base", _tower((512,), bert_base()),
          "Devlin, Chang, Lee, Toutanova, 'BERT: Pre-training of Deep Bidirectional "
          "Transformers for Language Understanding', NAACL 2019, Sec. 3",
          110_000_000, "110M", 109_482_240, "Hugging Face bert-base-uncased",
          input_note="512 tokens"),
        E("GPT-2 small", _tower((1024,), gpt2_small()),
          "Radford et al., 'Language Models are Unsupervised Multitask Learners', OpenAI 2019, Table 2",
          117_000_000, "117M", 124_439_808, "Hugging Face gpt2 (the released model)",
          note="the paper's 117M undercounts the released model (124.4M, output layer tied to "
               "the token embedding); compared with the released count",
          input_note="1024 tokens", aliases=("GPT-2",)),
        E("Mamba-130M", _tower((2048,), mamba_130m()),
          "Gu & Dao, 'Mamba: Linear-Time Sequence Modeling with Selective State Spaces', "
          "arXiv:2312.00752, 2023 (model sizes, Table 12/Sec. 4.2: 130M, d=768, 24 layers)",
          130_000_000, "130M",
          note="vocabulary 50277 padded to 50280, tied output layer",
          input_note="2048 tokens"),
        E("Whisper-small encoder", _tower((80, 3000), whisper_small_encoder()),
          "Radford et al., 'Robust Speech Recognition via Large-Scale Weak Supervision', ICML "
          "2023, Table 1 (244M for the whole encoder-decoder)", None,
          "none for the encoder (244M whole model)",
          note="sinusoidal encoder positions are a buffer in the authors' code; key projection "
               "without bias", input_note="30 s of 80-bin log-mel frames (3000 frames)"),
        E("NeRF", _tower((1, 6), nerf()),
          "Mildenhall et al., 'NeRF: Representing Scenes as Neural Radiance Fields for View "
          "Synthesis', ECCV 2020, Fig. 7 and Sec. 6.3 ('5 MB' of network weights)",
          1_250_000, "5 MB of float32 weights (about 1.25M parameters)",
          tolerance=0.06,
          note="coarse + fine MLPs of Fig. 7 (L=10/4 frequencies, no raw input); the paper "
               "only gives a rounded storage size, hence the 6% tolerance",
          input_note="one ray: 64 coarse + 192 fine samples"),
        E("CLIP ViT-B/32", clip_vit_b32(),
          "Radford et al., 'Learning Transferable Visual Models From Natural Language "
          "Supervision', ICML 2021 (hyperparameters in Tables 19-20; no parameter count)",
          None, "none", 151_277_313, "Hugging Face openai/clip-vit-base-patch32",
          note="image and text towers plus the logit scale"),
    ]
    return {e.name: e for e in es}


CATALOG = _build()


def _key(s):
    return "".join(ch for ch in s.lower() if ch.isalnum())


_INDEX = {}
for _e in CATALOG.values():
    for _n in (_e.name, *_e.aliases):
        _INDEX[_key(_n)] = _e


def get(name) -> Entry:
    """Look an entry up by name (case, spaces and punctuation ignored); a prefix that
    names exactly one entry is accepted ('clip', 'detr')."""
    k = _key(name)
    e = _INDEX.get(k)
    if e is None and k:
        hits = {id(v): v for key, v in _INDEX.items() if key.startswith(k)}
        if len(hits) == 1:
            e = next(iter(hits.values()))
    if e is None:
        raise FpsemError(f"unknown architecture {name!r}; known: {', '.join(CATALOG)}")
    return e
