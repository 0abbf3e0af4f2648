"""The model zoo: small classic architectures, each written once with fpsem.ops.

Every model has a small default config, seeded float32 weights (uniform
+-1/sqrt(fan_in), PyTorch's default scale; norms weight 1 bias 0 with a small
seeded perturbation so they matter), seeded default inputs, taps on every
layer and one fpsem.trace.step per block. Weight layouts follow fpsem.ops
(linear: x @ W with W (in, out); conv2d: (O, C, kh, kw)).
"""
from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from fpsem import ops
from fpsem.trace import scope, step, tap

from .base import Model, config_from


# -- helpers ------------------------------------------------------------------------------
class _Init:
    def __init__(self, seed):
        self.rng = np.random.default_rng(seed)
        self.p = {}

    def w(self, name, shape, fan_in):
        b = 1.0 / np.sqrt(fan_in)
        self.p[name] = self.rng.uniform(-b, b, size=shape).astype(np.float32)

    def norm(self, name, n):
        self.p[name + ".weight"] = (1 + 0.1 * self.rng.standard_normal(n)).astype(np.float32)
        self.p[name + ".bias"] = (0.1 * self.rng.standard_normal(n)).astype(np.float32)

    def linear(self, name, n_in, n_out, bias=True):
        self.w(name + ".weight", (n_in, n_out), n_in)
        if bias:
            self.w(name + ".bias", (n_out,), n_in)

    def conv(self, name, c_in, c_out, k, bias=True):
        fan = c_in * k * k
        self.w(name + ".weight", (c_out, c_in, k, k), fan)
        if bias:
            self.w(name + ".bias", (c_out,), fan)

    def bn(self, name, n):
        self.norm(name, n)
        self.p[name + ".running_mean"] = (0.1 * self.rng.standard_normal(n)).astype(np.float32)
        self.p[name + ".running_var"] = (1 + 0.2 * self.rng.uniform(0, 1, n)).astype(np.float32)


def _lin(D, P, name, x, bias=True):
    return tap(D, name, ops.linear(D, x, P[name + ".weight"], P[name + ".bias"] if bias else None))


def _conv(D, P, name, x, stride=1, padding=0, groups=1):
    return tap(D, name, ops.conv2d(D, x, P[name + ".weight"], P.get(name + ".bias"),
                                   stride=stride, padding=padding, groups=groups))


def _ln(D, P, name, x, eps="1e-5"):
    return tap(D, name, ops.layer_norm(D, x, P[name + ".weight"], P[name + ".bias"], eps=eps))


class _PGet:
    """P[name] plus P.get(name) (None when absent)."""

    def __init__(self, P, names):
        self.P, self.names = P, names

    def __getitem__(self, k):
        return self.P[k]

    def get(self, k):
        return self.P[k] if k in self.names else None


class ZooModel(Model):
    def __init__(self, config=None, seed=0):
        cfg = config_from(self.Config, self.PRESETS, config)
        init = _Init(seed)
        self.build(init, cfg)
        super().__init__(cfg, init.p, seed=seed)

    def Pd(self, D):
        return _PGet(self.P(D), self.params)

    def _rng(self, k=1000):
        return np.random.default_rng(self.seed + k)


# -- mlp --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class MLPConfig:
    n_in: int = 16
    hidden: tuple = (32, 32)
    n_out: int = 10
    batch: int = 4
    preset: str = "tiny"


class MLP(ZooModel):
    name = "mlp"
    summary = "multilayer perceptron, relu (rational: runs in the exact domain)"
    is_rational = True
    Config, PRESETS = MLPConfig, {"tiny": MLPConfig()}

    def build(self, init, cfg):
        dims = (cfg.n_in,) + tuple(cfg.hidden) + (cfg.n_out,)
        for i in range(len(dims) - 1):
            init.linear(f"fc{i}", dims[i], dims[i + 1])

    @property
    def n_steps(self):
        return len(self.config.hidden) + 1

    def default_inputs(self):
        return (self._rng().standard_normal((self.config.batch, self.config.n_in)).astype(np.float32),)

    def forward(self, D, x):
        P = self.Pd(D)
        h = D.asarray(self.check_input(x, (self.config.batch, self.config.n_in)))
        n = len(self.config.hidden) + 1
        for i in range(n):
            h = _lin(D, P, f"fc{i}", h)
            if i < n - 1:
                h = tap(D, f"act{i}", ops.relu(D, h))
            step(f"fc{i}")
        return tap(D, "logits", h)


# -- cnn: LeNet-5 -------------------------------------------------------------------------------
@dataclass(frozen=True)
class CNNConfig:
    image: int = 28
    channels: tuple = (6, 16)
    fc: tuple = (120, 84)
    n_classes: int = 10
    batch: int = 1
    preset: str = "tiny"


class CNN(ZooModel):
    name = "cnn"
    summary = "LeNet-5 (LeCun et al. 1998): conv5-pool-conv5-pool-fc-fc-fc, relu, max pool (rational)"
    is_rational = True
    Config, PRESETS = CNNConfig, {"tiny": CNNConfig()}
    n_steps = 5

    def build(self, init, cfg):
        c1, c2 = cfg.channels
        init.conv("conv1", 1, c1, 5)
        init.conv("conv2", c1, c2, 5)
        s = ((cfg.image) // 2 - 4) // 2
        dims = (c2 * s * s,) + tuple(cfg.fc) + (cfg.n_classes,)
        for i in range(3):
            init.linear(f"fc{i + 1}", dims[i], dims[i + 1])

    def default_inputs(self):
        c = self.config
        return (self._rng().uniform(0, 1, (c.batch, 1, c.image, c.image)).astype(np.float32),)

    def forward(self, D, x):
        c, P = self.config, self.Pd(D)
        x = D.asarray(self.check_input(x, (c.batch, 1, c.image, c.image)))
        x = _conv(D, P, "conv1", x, padding=2)
        x = tap(D, "pool1", ops.max_pool2d(D, ops.relu(D, x), 2))
        step("conv1")
        x = _conv(D, P, "conv2", x)
        x = tap(D, "pool2", ops.max_pool2d(D, ops.relu(D, x), 2))
        step("conv2")
        x = D.reshape(x, (c.batch, -1))
        for i in (1, 2, 3):
            x = _lin(D, P, f"fc{i}", x)
            if i < 3:
                x = ops.relu(D, x)
            step(f"fc{i}")
        return tap(D, "logits", x)


# -- resnet ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ResNetConfig:
    image: int = 16
    in_ch: int = 3
    widths: tuple = (8, 16)
    n_classes: int = 10
    batch: int = 1
    preset: str = "tiny"


class ResNet(ZooModel):
    name = "resnet"
    summary = "ResNet (He et al. 2016) with basic residual blocks, batch norm, relu"
    Config, PRESETS = ResNetConfig, {"tiny": ResNetConfig()}

    @property
    def n_steps(self):
        return len(self.config.widths) + 1

    def build(self, init, cfg):
        w0 = cfg.widths[0]
        init.conv("stem", cfg.in_ch, w0, 3, bias=False)
        init.bn("stem_bn", w0)
        cin = w0
        for i, w in enumerate(cfg.widths):
            p = f"layer{i}"
            init.conv(p + ".conv1", cin, w, 3, bias=False)
            init.bn(p + ".bn1", w)
            init.conv(p + ".conv2", w, w, 3, bias=False)
            init.bn(p + ".bn2", w)
            if cin != w or i > 0:
                init.conv(p + ".down", cin, w, 1, bias=False)
                init.bn(p + ".down_bn", w)
            cin = w
        init.linear("fc", cin, cfg.n_classes)

    def default_inputs(self):
        c = self.config
        return (self._rng().standard_normal((c.batch, c.in_ch, c.image, c.image)).astype(np.float32),)

    def _bn(self, D, P, name, x):
        return tap(D, name, ops.batch_norm(D, x, P[name + ".running_mean"], P[name + ".running_var"],
                                           P[name + ".weight"], P[name + ".bias"]))

    def forward(self, D, x):
        c, P = self.config, self.Pd(D)
        x = D.asarray(self.check_input(x, (c.batch, c.in_ch, c.image, c.image)))
        x = ops.relu(D, self._bn(D, P, "stem_bn", _conv(D, P, "stem", x, padding=1)))
        step("stem")
        for i in range(len(c.widths)):
            p = f"layer{i}"
            stride = 1 if i == 0 else 2
            h = _conv(D, P, p + ".conv1", x, stride=stride, padding=1)
            h = ops.relu(D, self._bn(D, P, p + ".bn1", h))
            h = self._bn(D, P, p + ".bn2", _conv(D, P, p + ".conv2", h, padding=1))
            skip = x
            if p + ".down.weight" in self.params:
                skip = self._bn(D, P, p + ".down_bn", _conv(D, P, p + ".down", x, stride=stride))
            x = tap(D, p + ".out", ops.relu(D, D.add(h, skip)))
            step(p)
        x = tap(D, "pool", ops.global_avg_pool(D, x))
        return tap(D, "logits", _lin(D, P, "fc", x))


# -- shared transformer pieces ---------------------------------------------------------------------
def _init_attn_block(init, p, C, mlp=4):
    init.norm(p + ".ln_1", C)
    init.linear(p + ".attn.qkv", C, 3 * C)
    init.linear(p + ".attn.proj", C, C)
    init.norm(p + ".ln_2", C)
    init.linear(p + ".mlp.fc1", C, mlp * C)
    init.linear(p + ".mlp.fc2", mlp * C, C)


def _self_attn(D, P, p, x, n_head, causal=False):
    T, C = D.shape(x)
    hd = C // n_head
    qkv = _lin(D, P, p + ".qkv", x)

    def heads(j):
        part = D.getitem(qkv, (slice(None), slice(j * C, (j + 1) * C)))
        return D.transpose(D.reshape(part, (T, n_head, hd)), (1, 0, 2))

    y = ops.scaled_dot_product_attention(D, heads(0), heads(1), heads(2), causal=causal)
    y = tap(D, p + ".attn", D.reshape(D.transpose(y, (1, 0, 2)), (T, C)))
    return _lin(D, P, p + ".proj", y)


# -- vit -----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ViTConfig:
    image: int = 16
    patch: int = 4
    in_ch: int = 3
    dim: int = 32
    n_layer: int = 2
    n_head: int = 2
    n_classes: int = 10
    preset: str = "tiny"


class ViT(ZooModel):
    name = "vit"
    summary = "Vision Transformer (Dosovitskiy et al. 2021): patch embedding, [CLS], pre-norm blocks, GELU"
    Config, PRESETS = ViTConfig, {"tiny": ViTConfig()}

    @property
    def n_steps(self):
        return self.config.n_layer

    def build(self, init, cfg):
        C = cfg.dim
        init.conv("patch", cfg.in_ch, C, cfg.patch)
        n = (cfg.image // cfg.patch) ** 2
        init.p["cls"] = (0.02 * init.rng.standard_normal((1, C))).astype(np.float32)
        init.p["pos"] = (0.02 * init.rng.standard_normal((n + 1, C))).astype(np.float32)
        for i in range(cfg.n_layer):
            _init_attn_block(init, f"blocks.{i}", C)
        init.norm("ln_f", C)
        init.linear("head", C, cfg.n_classes)

    def default_inputs(self):
        c = self.config
        return (self._rng().standard_normal((1, c.in_ch, c.image, c.image)).astype(np.float32),)

    def forward(self, D, img):
        c, P = self.config, self.Pd(D)
        x = D.asarray(self.check_input(img, (1, c.in_ch, c.image, c.image)))
        x = _conv(D, P, "patch", x, stride=c.patch)                        # (1, C, h, w)
        x = D.transpose(D.reshape(x, (c.dim, -1)), (1, 0))                 # (n, C)
        x = tap(D, "embed", D.add(D.concat([P["cls"], x], axis=0), P["pos"]))
        for i in range(c.n_layer):
            p = f"blocks.{i}"
            a = _ln(D, P, p + ".ln_1", x)
            x = tap(D, p + ".resid_attn", D.add(x, _self_attn(D, P, p + ".attn", a, c.n_head)))
            m = _ln(D, P, p + ".ln_2", x)
            h = tap(D, p + ".mlp.act", ops.gelu_erf(D, _lin(D, P, p + ".mlp.fc1", m)))
            x = tap(D, p + ".resid_mlp", D.add(x, _lin(D, P, p + ".mlp.fc2", h)))
            step(p)
        x = _ln(D, P, "ln_f", D.getitem(x, slice(0, 1)))
        return tap(D, "logits", _lin(D, P, "head", x))


# -- recurrent -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class RNNConfig:
    n_in: int = 8
    hidden: int = 16
    n_out: int = 4
    steps: int = 8
    preset: str = "tiny"


class _Recurrent(ZooModel):
    Config, PRESETS = RNNConfig, {"tiny": RNNConfig()}
    gates = 1

    @property
    def n_steps(self):
        return self.config.steps

    def build(self, init, cfg):
        G, H = self.gates, cfg.hidden
        init.w("cell.W_ih", (cfg.n_in, G * H), H)
        init.w("cell.W_hh", (H, G * H), H)
        init.w("cell.b_ih", (G * H,), H)
        init.w("cell.b_hh", (G * H,), H)
        init.linear("head", H, cfg.n_out)

    def default_inputs(self):
        c = self.config
        return (self._rng().standard_normal((c.steps, c.n_in)).astype(np.float32),)

    def forward(self, D, xs):
        c, P = self.config, self.Pd(D)
        xs = D.asarray(self.check_input(xs, (c.steps, c.n_in)))
        w = (P["cell.W_ih"], P["cell.W_hh"], P["cell.b_ih"], P["cell.b_hh"])
        h = D.zeros((1, c.hidden))
        cell = D.zeros((1, c.hidden))
        outs = []
        for t in range(c.steps):
            x = D.getitem(xs, slice(t, t + 1))
            with scope(f"t{t}"):
                if self.gates == 4:
                    h, cell = ops.lstm_cell(D, x, h, cell, *w)
                    tap(D, "c", cell)
                elif self.gates == 3:
                    h = ops.gru_cell(D, x, h, *w)
                else:
                    h = ops.rnn_cell(D, x, h, *w)
                outs.append(tap(D, "h", h))
            step(f"t{t}")
        return tap(D, "logits", _lin(D, P, "head", D.concat(outs, axis=0)))


class RNN(_Recurrent):
    name = "rnn"
    summary = "Elman RNN, tanh cell, linear head per step"
    gates = 1


class LSTM(_Recurrent):
    name = "lstm"
    summary = "LSTM (Hochreiter & Schmidhuber 1997), PyTorch gate order i, f, g, o"
    gates = 4


class GRU(_Recurrent):
    name = "gru"
    summary = "GRU (Cho et al. 2014), PyTorch form"
    gates = 3


# -- transformer: BERT-style encoder -------------------------------------------------------------------
@dataclass(frozen=True)
class EncoderConfig:
    vocab_size: int = 128
    max_len: int = 32
    dim: int = 32
    n_layer: int = 2
    n_head: int = 2
    n_classes: int = 2
    seq: int = 8
    preset: str = "tiny"


class Encoder(ZooModel):
    name = "transformer"
    summary = "BERT-style encoder (Devlin et al. 2019): post-norm blocks, GELU, [CLS] pooler, classifier"
    Config, PRESETS = EncoderConfig, {"tiny": EncoderConfig()}

    @property
    def n_steps(self):
        return self.config.n_layer

    def build(self, init, cfg):
        C = cfg.dim
        init.p["word_embeddings"] = (0.02 * init.rng.standard_normal((cfg.vocab_size, C))).astype(np.float32)
        init.p["position_embeddings"] = (0.02 * init.rng.standard_normal((cfg.max_len, C))).astype(np.float32)
        init.norm("emb_ln", C)
        for i in range(cfg.n_layer):
            _init_attn_block(init, f"layer.{i}", C)
        init.linear("pooler", C, C)
        init.linear("classifier", C, cfg.n_classes)

    def default_inputs(self):
        c = self.config
        return (self._rng().integers(0, c.vocab_size, c.seq).astype(np.int64),)

    def forward(self, D, ids):
        c, P = self.config, self.Pd(D)
        ids = np.asarray(ids)
        from fpsem.errors import ShapeError
        if ids.ndim != 1 or ids.size > c.max_len or ids.min() < 0 or ids.max() >= c.vocab_size:
            raise ShapeError(f"transformer: ids must be 1-D, at most {c.max_len} long, in [0, {c.vocab_size})")
        x = D.add(ops.embedding(D, P["word_embeddings"], ids),
                  ops.embedding(D, P["position_embeddings"], np.arange(ids.size)))
        x = _ln(D, P, "emb_ln", x, eps="1e-12")
        for i in range(c.n_layer):
            p = f"layer.{i}"
            x = _ln(D, P, p + ".ln_1", D.add(x, _self_attn(D, P, p + ".attn", x, c.n_head)), eps="1e-12")
            h = tap(D, p + ".mlp.act", ops.gelu_erf(D, _lin(D, P, p + ".mlp.fc1", x)))
            x = _ln(D, P, p + ".ln_2", D.add(x, _lin(D, P, p + ".mlp.fc2", h)), eps="1e-12")
            step(p)
        pooled = tap(D, "pooler.act", ops.tanh(D, _lin(D, P, "pooler", D.getitem(x, slice(0, 1)))))
        return tap(D, "logits", _lin(D, P, "classifier", pooled))


# -- mamba ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class MambaConfig:
    vocab_size: int = 64
    dim: int = 16
    d_inner: int = 32
    d_state: int = 8
    d_conv: int = 4
    dt_rank: int = 4
    n_layer: int = 2
    seq: int = 8
    preset: str = "tiny"


class Mamba(ZooModel):
    name = "mamba"
    summary = "Mamba (Gu & Dao 2023): RMS norm, in_proj, causal depthwise conv, SiLU, selective scan (S6), gated out_proj"
    Config, PRESETS = MambaConfig, {"tiny": MambaConfig()}

    @property
    def n_steps(self):
        return self.config.n_layer

    def build(self, init, c):
        init.p["embedding"] = (0.1 * init.rng.standard_normal((c.vocab_size, c.dim))).astype(np.float32)
        for i in range(c.n_layer):
            p = f"layers.{i}"
            init.p[p + ".norm.weight"] = (1 + 0.1 * init.rng.standard_normal(c.dim)).astype(np.float32)
            init.linear(p + ".in_proj", c.dim, 2 * c.d_inner, bias=False)
            init.w(p + ".conv.weight", (c.d_inner, 1, 1, c.d_conv), c.d_conv)
            init.w(p + ".conv.bias", (c.d_inner,), c.d_conv)
            init.linear(p + ".x_proj", c.d_inner, c.dt_rank + 2 * c.d_state, bias=False)
            init.linear(p + ".dt_proj", c.dt_rank, c.d_inner)
            # S4D-real initialisation: A = -(1..n), stored as A_log
            init.p[p + ".A_log"] = np.log(np.tile(np.arange(1, c.d_state + 1, dtype=np.float32), (c.d_inner, 1)))
            init.p[p + ".D"] = np.ones(c.d_inner, np.float32)
            init.linear(p + ".out_proj", c.d_inner, c.dim, bias=False)
        init.p["norm_f.weight"] = np.ones(c.dim, np.float32)

    def default_inputs(self):
        c = self.config
        return (self._rng().integers(0, c.vocab_size, c.seq).astype(np.int64),)

    def forward(self, D, ids):
        c, P = self.config, self.Pd(D)
        ids = np.asarray(ids)
        from fpsem.errors import ShapeError
        if ids.ndim != 1 or ids.min() < 0 or ids.max() >= c.vocab_size:
            raise ShapeError(f"mamba: ids must be 1-D in [0, {c.vocab_size})")
        L, di, n, r = ids.size, c.d_inner, c.d_state, c.dt_rank
        x = tap(D, "embedding", ops.embedding(D, P["embedding"], ids))
        for i in range(c.n_layer):
            p = f"layers.{i}"
            h = tap(D, p + ".norm", ops.rms_norm(D, x, P[p + ".norm.weight"], eps="1e-5"))
            xz = _lin(D, P, p + ".in_proj", h, bias=False)
            xs = D.getitem(xz, (slice(None), slice(0, di)))
            z = D.getitem(xz, (slice(None), slice(di, 2 * di)))
            # causal depthwise conv over time: pad d_conv-1 zeros on the left
            xc = D.reshape(D.transpose(xs), (1, di, 1, L))
            xc = D.pad(xc, ((0, 0), (0, 0), (0, 0), (c.d_conv - 1, 0)))
            xc = ops.conv2d(D, xc, P[p + ".conv.weight"], P[p + ".conv.bias"], groups=di)
            xs = tap(D, p + ".conv", ops.silu(D, D.transpose(D.reshape(xc, (di, L)))))
            dbc = _lin(D, P, p + ".x_proj", xs, bias=False)
            dt = D.getitem(dbc, (slice(None), slice(0, r)))
            B = D.getitem(dbc, (slice(None), slice(r, r + n)))
            C = D.getitem(dbc, (slice(None), slice(r + n, r + 2 * n)))
            delta = tap(D, p + ".delta", ops.softplus(D, _lin(D, P, p + ".dt_proj", dt)))
            A = D.neg(D.exp(P[p + ".A_log"]))
            y = tap(D, p + ".ssm", ops.selective_scan(D, xs, delta, A, B, C, P[p + ".D"]))
            y = D.mul(y, ops.silu(D, z))
            x = tap(D, p + ".resid", D.add(x, _lin(D, P, p + ".out_proj", y, bias=False)))
            step(p)
        x = ops.rms_norm(D, x, P["norm_f.weight"], eps="1e-5")
        return tap(D, "logits", D.dot(x, D.transpose(P["embedding"])))


# -- fno ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class FNOConfig:
    length: int = 32
    width: int = 16
    modes: int = 8
    n_layer: int = 2
    preset: str = "tiny"


class FNO(ZooModel):
    name = "fno"
    summary = "Fourier Neural Operator (Li et al. 2021), 1-D: lift, spectral conv + 1x1 conv + GELU, project"
    Config, PRESETS = FNOConfig, {"tiny": FNOConfig()}

    @property
    def n_steps(self):
        return self.config.n_layer

    def build(self, init, c):
        init.linear("lift", 2, c.width)  # input function value and grid coordinate
        s = 1.0 / (c.width * c.width)
        for i in range(c.n_layer):
            p = f"layers.{i}"
            init.p[p + ".w_re"] = (s * init.rng.uniform(0, 1, (c.width, c.width, c.modes))).astype(np.float32)
            init.p[p + ".w_im"] = (s * init.rng.uniform(0, 1, (c.width, c.width, c.modes))).astype(np.float32)
            init.linear(p + ".pointwise", c.width, c.width)
        init.linear("proj1", c.width, 2 * c.width)
        init.linear("proj2", 2 * c.width, 1)

    def default_inputs(self):
        L = self.config.length
        t = np.arange(L) / L
        return ((np.sin(2 * np.pi * t) + 0.3 * self._rng().standard_normal(L)).astype(np.float32),)

    def forward(self, D, u):
        c, P = self.config, self.Pd(D)
        L = c.length
        u = D.asarray(self.check_input(u, (L,)))
        grid = D.asarray(np.array([Fraction(i, L) for i in range(L)], dtype=object))
        x = _lin(D, P, "lift", D.stack([u, grid], axis=1))                 # (L, width)
        for i in range(c.n_layer):
            p = f"layers.{i}"
            xs = D.expand_dims(D.transpose(x), 0)                          # (1, width, L)
            s = D.transpose(D.squeeze(ops.spectral_conv1d(D, xs, P[p + ".w_re"], P[p + ".w_im"], c.modes), 0))
            x = D.add(tap(D, p + ".spectral", s), _lin(D, P, p + ".pointwise", x))
            if i < c.n_layer - 1:
                x = ops.gelu_erf(D, x)
            tap(D, p + ".out", x)
            step(p)
        h = ops.gelu_erf(D, _lin(D, P, "proj1", x))
        return tap(D, "output", D.reshape(_lin(D, P, "proj2", h), (L,)))


# -- diffusion ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class DiffusionConfig:
    image: int = 8
    ch: int = 8
    temb: int = 16
    #: DDIM schedule: cumulative alphas (alpha-bar) as exact decimals, noisiest first;
    #: the last entry is the target of the final step
    alpha_bars: tuple = ("0.05", "0.3", "0.7", "0.99")
    #: the timestep fed to the denoiser at each step
    timesteps: tuple = (750, 500, 250)
    preset: str = "tiny"


class Diffusion(ZooModel):
    name = "diffusion"
    summary = "small UNet denoiser (conv, SiLU, avg-pool down, nearest up, skip) and deterministic DDIM steps"
    Config, PRESETS = DiffusionConfig, {"tiny": DiffusionConfig()}

    @property
    def n_steps(self):
        return len(self.config.timesteps)

    def build(self, init, c):
        C = c.ch
        init.linear("temb.fc1", c.temb, 2 * C)
        init.linear("temb.fc2", 2 * C, C)
        init.conv("in", 1, C, 3)
        init.conv("down.conv", C, 2 * C, 3)
        init.linear("down.temb", C, 2 * C)
        init.conv("mid.conv", 2 * C, 2 * C, 3)
        init.conv("up.conv", 3 * C, C, 3)
        init.conv("out", C, 1, 3)

    def default_inputs(self):
        c = self.config
        return (self._rng().standard_normal((1, 1, c.image, c.image)).astype(np.float32),)

    def denoise(self, D, P, x, t):
        """UNet epsilon prediction at timestep t."""
        c = self.config
        S = c.image
        te = ops.sinusoidal_positions(D, [t], c.temb)                              # (1, temb)
        te = _lin(D, P, "temb.fc2", ops.silu(D, _lin(D, P, "temb.fc1", te)))        # (1, C)
        h0 = ops.silu(D, D.add(_conv(D, P, "in", x, padding=1), D.reshape(te, (1, c.ch, 1, 1))))
        d = ops.avg_pool2d(D, h0, 2)                                                # (1, C, S/2, S/2)
        tb = D.reshape(_lin(D, P, "down.temb", te), (1, 2 * c.ch, 1, 1))
        d = ops.silu(D, D.add(_conv(D, P, "down.conv", d, padding=1), tb))
        m = ops.silu(D, _conv(D, P, "mid.conv", d, padding=1))
        up_idx = np.repeat(np.arange(S // 2), 2)                                    # nearest neighbour
        u = D.take(D.take(m, up_idx, axis=2), up_idx, axis=3)                      # (1, 2C, S, S)
        u = ops.silu(D, _conv(D, P, "up.conv", D.concat([u, h0], axis=1), padding=1))
        return _conv(D, P, "out", u, padding=1)

    def forward(self, D, x):
        """DDIM (Song et al. 2021, eta = 0): x0 = (x - sqrt(1-a) eps) / sqrt(a);
        x <- sqrt(a') x0 + sqrt(1-a') eps, from alpha-bar a to the next a'."""
        c, P = self.config, self.Pd(D)
        x = D.asarray(self.check_input(x, (1, 1, c.image, c.image)))
        one = D.const(1)
        for k, t in enumerate(c.timesteps):
            with scope(f"step{k}"):
                a, a2 = D.const(c.alpha_bars[k]), D.const(c.alpha_bars[k + 1])
                eps = tap(D, "eps", self.denoise(D, P, x, t))
                x0 = D.div(D.sub(x, D.mul(D.sqrt(D.sub(one, a)), eps)), D.sqrt(a))
                x = tap(D, "x", D.add(D.mul(D.sqrt(a2), tap(D, "x0", x0)), D.mul(D.sqrt(D.sub(one, a2)), eps)))
            step(f"step{k}")
        return tap(D, "sample", x)


ZOO_MODELS = {m.name: m for m in (MLP, CNN, ResNet, ViT, RNN, LSTM, GRU, Encoder, Mamba, FNO, Diffusion)}
