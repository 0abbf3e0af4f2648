"""An independent BERT + mean pooling + cosine similarity, written directly on
python-flint's Arb balls from the checkpoint's raw tensors (HF names), sharing no
code with fpsem.models.bert or fpsem's ball domain: every result is a rigorous
enclosure of the real value of the HF BertModel formulas.

    x = LN(word[ids] + type[0] + pos[:T]); per layer: a = LN(x + O(attn(x))),
    x = LN(a + W2 gelu(W1 a)); e = mean_t x; cos(e_0, e_j)
"""
import flint
from flint import arb, arb_mat


def _mat(a):
    a = a.astype(float)
    return arb_mat(a.shape[0], a.shape[1], [float(v) for v in a.ravel()])


def _rows(M):
    return [[M[i, j] for j in range(M.ncols())] for i in range(M.nrows())]


def _ln(rows, g, b, eps):
    out = []
    for r in rows:
        n = len(r)
        mu = sum(r, arb(0)) / n
        var = sum(((v - mu) ** 2 for v in r), arb(0)) / n
        s = (var + eps).sqrt()
        out.append([(v - mu) / s * float(gi) + float(bi) for v, gi, bi in zip(r, g, b)])
    return out


def _lin(rows, W, bias):
    """rows @ W^T + bias, W (out, in) as stored by torch's nn.Linear."""
    Y = arb_mat(rows) * _mat(W.T)
    return [[Y[i, j] + float(bias[j]) for j in range(Y.ncols())] for i in range(Y.nrows())]


def _gelu(v):
    return v * (1 + (v / arb(2).sqrt()).erf()) / 2


def _attention(x, t, p, H):
    T, C = len(x), len(x[0])
    hd = C // H
    q, k, v = (_lin(x, t[p + f"attention.self.{n}.weight"], t[p + f"attention.self.{n}.bias"])
               for n in ("query", "key", "value"))
    scale = arb(hd).sqrt()
    ctx = [[None] * C for _ in range(T)]
    for h in range(H):
        cols = range(h * hd, (h + 1) * hd)
        for i in range(T):
            s = [sum((q[i][c] * k[j][c] for c in cols), arb(0)) / scale for j in range(T)]
            e = [(sj - s[0]).exp() for sj in s]   # softmax is shift-invariant
            z = sum(e, arb(0))
            for c in cols:
                ctx[i][c] = sum((e[j] * v[j][c] for j in range(T)), arb(0)) / z
    return ctx


def forward(t, cfg, seqs, prec=160):
    """(pooled embeddings, cosine similarities of seqs[0] with the others) as Arb balls.
    t: HF tensor name (no `bert.` prefix) -> numpy array; cfg: config.json dict."""
    old = flint.ctx.prec
    flint.ctx.prec = prec
    try:
        eps = arb(repr(float(cfg["layer_norm_eps"])))
        H = cfg["num_attention_heads"]
        pooled = []
        for ids in seqs:
            rows = []
            for r, i in enumerate(ids):   # (word + type) + position, each sum exact in Arb
                w = t["embeddings.word_embeddings.weight"][i]
                ty = t["embeddings.token_type_embeddings.weight"][0]
                ps = t["embeddings.position_embeddings.weight"][r]
                rows.append([arb(float(a)) + float(b) + float(c) for a, b, c in zip(w, ty, ps)])
            x = _ln(rows, t["embeddings.LayerNorm.weight"], t["embeddings.LayerNorm.bias"], eps)
            for li in range(cfg["num_hidden_layers"]):
                p = f"encoder.layer.{li}."
                a = _lin(_attention(x, t, p, H), t[p + "attention.output.dense.weight"],
                         t[p + "attention.output.dense.bias"])
                a = _ln([[u + w for u, w in zip(ra, rx)] for ra, rx in zip(a, x)],
                        t[p + "attention.output.LayerNorm.weight"], t[p + "attention.output.LayerNorm.bias"], eps)
                h = [[_gelu(v) for v in r] for r in _lin(a, t[p + "intermediate.dense.weight"],
                                                          t[p + "intermediate.dense.bias"])]
                h = _lin(h, t[p + "output.dense.weight"], t[p + "output.dense.bias"])
                x = _ln([[u + w for u, w in zip(rh, ra)] for rh, ra in zip(h, a)],
                        t[p + "output.LayerNorm.weight"], t[p + "output.LayerNorm.bias"], eps)
            pooled.append([sum((r[c] for r in x), arb(0)) / len(x) for c in range(len(x[0]))])
        q = pooled[0]
        nq = sum((v * v for v in q), arb(0)).sqrt()
        sims = [sum((a * b for a, b in zip(q, e)), arb(0)) / (nq * sum((v * v for v in e), arb(0)).sqrt())
                for e in pooled[1:]]
        return pooled, sims
    finally:
        flint.ctx.prec = old


def mid_rad(balls):
    """float64 midpoints and radii (rounded up) of a list of arb."""
    import numpy as np
    m = np.array([float(b.mid()) for b in balls])
    # |float(mid) - mid| <= ulp/2 of mid: widen the radius by it (rounded up)
    r = np.array([float(b.rad()) for b in balls]) * (1 + 2.0 ** -50) + np.spacing(np.abs(m))
    return m, r
