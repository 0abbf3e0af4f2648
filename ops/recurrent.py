"""Recurrences: selective scan (Mamba S6) and RNN / LSTM / GRU cells.

Weights use the x @ W layout: W_ih (in, G*H), W_hh (H, G*H); gate order as in
PyTorch (LSTM: i, f, g, o; GRU: r, z, n).
"""
from ._registry import c, op
from .elementwise import sigmoid


@op(group="recurrent")
def selective_scan(D, x, delta, A, B, C, Dskip=None, acc=None):
    """Mamba's S6 recurrence (Gu & Dao, 2023), zero-order-hold A and Euler B:

        h_t = exp(delta_t * A) * h_{t-1} + (delta_t * x_t) * B_t      (elementwise over (d, n))
        y_t = sum_n h_t[:, n] C_t[n]  (+ Dskip * x_t)

    x, delta: (L, d); A: (d, n); B, C: (L, n). Sequential in t, so y_t depends
    only on inputs at times <= t. Roundings per step: delta*A, exp, *, delta*x,
    *B, +, and the length-n dot with C in order `acc`."""
    L, d = D.shape(x)
    n = D.shape(A)[1]
    h = None
    ys = []
    for t in range(L):
        dt = D.reshape(D.getitem(delta, t), (d, 1))
        xt = D.reshape(D.getitem(x, t), (d, 1))
        dA = D.exp(D.mul(dt, A))
        dBx = D.mul(D.mul(dt, xt), D.reshape(D.getitem(B, t), (1, n)))
        h = dBx if h is None else D.add(D.mul(dA, h), dBx)
        y = D.reshape(D.dot(h, D.reshape(D.getitem(C, t), (n, 1)), acc=acc), (d,))
        if Dskip is not None:
            y = D.add(y, D.mul(Dskip, D.getitem(x, t)))
        ys.append(y)
    return D.stack(ys, axis=0)


def _gates(D, x, h, W_ih, W_hh, b_ih, b_hh, acc):
    g = D.dot(x, W_ih, acc=acc)
    if b_ih is not None:
        g = D.add(g, b_ih)
    gh = D.dot(h, W_hh, acc=acc)
    if b_hh is not None:
        gh = D.add(gh, b_hh)
    return g, gh


def _chunk(D, g, i, H):
    return D.getitem(g, (Ellipsis, slice(i * H, (i + 1) * H)))


@op(group="recurrent")
def rnn_cell(D, x, h, W_ih, W_hh, b_ih=None, b_hh=None, acc=None):
    """Elman cell: h' = tanh(x W_ih + b_ih + h W_hh + b_hh)."""
    g, gh = _gates(D, x, h, W_ih, W_hh, b_ih, b_hh, acc)
    return D.tanh(D.add(g, gh))


@op(group="recurrent")
def lstm_cell(D, x, h, cell, W_ih, W_hh, b_ih=None, b_hh=None, acc=None):
    """LSTM: i, f, g, o = split(x W_ih + b_ih + h W_hh + b_hh);
    c' = sigmoid(f) c + sigmoid(i) tanh(g); h' = sigmoid(o) tanh(c'). Returns (h', c')."""
    H = D.shape(h)[-1]
    g, gh = _gates(D, x, h, W_ih, W_hh, b_ih, b_hh, acc)
    z = D.add(g, gh)
    i, f, gg, o = (_chunk(D, z, j, H) for j in range(4))
    c2 = D.add(D.mul(sigmoid(D, f), cell), D.mul(sigmoid(D, i), D.tanh(gg)))
    return D.mul(sigmoid(D, o), D.tanh(c2)), c2


@op(group="recurrent")
def gru_cell(D, x, h, W_ih, W_hh, b_ih=None, b_hh=None, acc=None):
    """GRU (PyTorch form): r = s(xr + hr), z = s(xz + hz), n = tanh(xn + r * hn),
    h' = (1 - z) n + z h."""
    H = D.shape(h)[-1]
    g, gh = _gates(D, x, h, W_ih, W_hh, b_ih, b_hh, acc)
    r = sigmoid(D, D.add(_chunk(D, g, 0, H), _chunk(D, gh, 0, H)))
    z = sigmoid(D, D.add(_chunk(D, g, 1, H), _chunk(D, gh, 1, H)))
    n = D.tanh(D.add(_chunk(D, g, 2, H), D.mul(r, _chunk(D, gh, 2, H))))
    return D.add(D.mul(D.sub(c(D, 1), z), n), D.mul(z, h))


@op(group="recurrent")
def rnn(D, xs, h0, cell_fn, *weights, acc=None):
    """Run a cell over time: xs (T, in) -> (T, H), the cell applied sequentially."""
    h = h0
    out = []
    for t in range(D.shape(xs)[0]):
        h = cell_fn(D, D.getitem(xs, slice(t, t + 1)), h, *weights, acc=acc)
        out.append(h)
    return D.concat(out, axis=0)
