"""Accumulation orders: the order in which a reduction rounds is part of its meaning.

Every reduction (`sum`, `dot`) takes an `Order`. Two float domains can only be
expected to agree bit for bit when they use the same order, the same FMA policy
and the same rounding. The exact definitions below are the contract that the
`ieee32`, ordered `float32`/`float64` and `cuda` domains all implement.

For a vector x[0..n-1] (for dot, the terms are the products x[i]*y[i]):

sequential      s = t0; s = s + t_i for i = 1..n-1 (left to right).
pairwise        P(t) = t0 if n == 1 else P(t[:n//2]) + P(t[n//2:]) (recursive halving).
blocked(k)      consecutive blocks of k terms, each summed sequentially; the block
                sums are then summed sequentially.
tree(w)         w lanes (w a power of two): lane j sums t_j, t_{j+w}, t_{j+2w}, ...
                sequentially; then the lanes are combined by a halving tree,
                lane[j] = lane[j] + lane[j + h] for h = w/2, w/4, ..., 1, a lane
                without terms being absent (the other operand passes through
                unchanged). This is a warp-shuffle reduction (w = 32).
fma_chain       dot only: s = +0; s = fma(x_i, y_i, s) for i = 0..n-1, so each
                product is never rounded on its own. For sums it equals sequential.
exact_then_round  the exact sum (or dot) rounded once.
native          whatever the backend does (numpy's pairwise sum, BLAS GEMM):
                unspecified, so only the order-free worst-case bound applies.

For dot under every order but fma_chain and exact_then_round, each product is
rounded first and the rounded products are summed in that order.
An empty reduction gives +0.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass

from .errors import UnsupportedOption


@dataclass(frozen=True)
class Order:
    kind: str
    k: int = 0  # block size (blocked) or lane count (tree)

    def __str__(self):
        return f"{self.kind}({self.k})" if self.kind in ("blocked", "tree") else self.kind

    @property
    def specified(self):
        return self.kind != "native"

    def roundings(self, n, dot=False):
        """Largest number of roundings any single term undergoes for length n.

        The classical bound |fl(sum) - sum| <= gamma_k * sum|t_i| (Higham, Thm 4.3
        and eq. 3.5) holds with k = this number. For dot products the rounding of
        each product counts once more, except under fma_chain where products are
        fused and exact_then_round which rounds once.
        """
        if n <= 0:
            return 0
        kind = self.kind
        if kind == "exact_then_round":
            return 1
        if kind == "fma_chain":
            return n if dot else max(n - 1, 0)
        if kind == "sequential" or kind == "native":
            adds = n - 1
        elif kind == "pairwise":
            adds = math.ceil(math.log2(n)) if n > 1 else 0
        elif kind == "blocked":
            k = self.k
            nb = -(-n // k)
            adds = (min(k, n) - 1) + (nb - 1)
        elif kind == "tree":
            w = self.k
            per_lane = -(-n // w)
            used = min(n, w)
            adds = (per_lane - 1) + (math.ceil(math.log2(used)) if used > 1 else 0)
        else:  # pragma: no cover - constructor validates
            raise AssertionError(kind)
        return adds + (1 if dot else 0)


SEQUENTIAL = Order("sequential")
PAIRWISE = Order("pairwise")
FMA_CHAIN = Order("fma_chain")
EXACT_THEN_ROUND = Order("exact_then_round")
NATIVE = Order("native")

_SIMPLE = {"sequential": SEQUENTIAL, "pairwise": PAIRWISE, "fma_chain": FMA_CHAIN,
           "fma-chain": FMA_CHAIN, "exact_then_round": EXACT_THEN_ROUND,
           "exact-then-round": EXACT_THEN_ROUND, "native": NATIVE}
_PARAM = re.compile(r"^(blocked|tree)\((\d+)\)$")

ORDER_NAMES = ("sequential", "pairwise", "blocked(k)", "tree(w)", "fma_chain",
               "exact_then_round", "native")


# Parameters beyond this are typos, not orders: kernels index with int64 and
# allocate per block/lane (a block of 2**40 terms is "sequential" anyway).
MAX_ORDER_PARAM = 2 ** 31 - 1


def _param(name, v):
    if isinstance(v, bool) or not isinstance(v, (int, str)) and not hasattr(v, "__index__"):
        raise UnsupportedOption(f"order {name}({v!r}): the parameter must be an integer")
    try:
        k = int(v)
    except ValueError:
        raise UnsupportedOption(f"order {name}({v!r}): the parameter must be an integer") from None
    if k > MAX_ORDER_PARAM:
        raise UnsupportedOption(f"order {name}({k}): the parameter must be at most {MAX_ORDER_PARAM}")
    return k


def blocked(k):
    k = _param("blocked", k)
    if k < 1:
        raise UnsupportedOption(f"order blocked({k}): block size must be >= 1")
    return Order("blocked", k)


def tree(w):
    w = _param("tree", w)
    if w < 1 or w & (w - 1):
        raise UnsupportedOption(f"order tree({w}): lane count must be a power of two")
    return Order("tree", w)


def parse_order(spec) -> Order:
    """Accept an Order or a string such as 'pairwise', 'blocked(64)', 'tree(32)'."""
    if isinstance(spec, Order):
        return spec
    if not isinstance(spec, str):
        raise UnsupportedOption(f"accumulation order must be a string or Order, got {spec!r}")
    s = spec.strip().lower().replace(" ", "")
    if s in _SIMPLE:
        return _SIMPLE[s]
    m = _PARAM.match(s)
    if m:
        return blocked(m.group(2)) if m.group(1) == "blocked" else tree(m.group(2))
    raise UnsupportedOption(
        f"unknown accumulation order {spec!r}; known: {', '.join(ORDER_NAMES)}")


def order_schedule(order: Order, n):
    """The order as a list of pairwise additions over term indices.

    Returns (steps, root): each step (dst, a, b) means node dst = node a + node b,
    where nodes 0..n-1 are the terms and new nodes are numbered from n upwards.
    This is the executable definition that reference implementations and tests
    share; fast paths must agree with it bit for bit. Not for fma_chain,
    exact_then_round or native.
    """
    steps = []
    nxt = [n]

    def add(a, b):
        d = nxt[0]
        nxt[0] += 1
        steps.append((d, a, b))
        return d

    def seq(idx):
        acc = idx[0]
        for i in idx[1:]:
            acc = add(acc, i)
        return acc

    def pw(idx):
        if len(idx) == 1:
            return idx[0]
        h = len(idx) // 2
        return add(pw(idx[:h]), pw(idx[h:]))

    if n == 0:
        return steps, None
    idx = list(range(n))
    kind = order.kind
    if kind == "sequential":
        root = seq(idx)
    elif kind == "pairwise":
        root = pw(idx)
    elif kind == "blocked":
        root = seq([seq(idx[i:i + order.k]) for i in range(0, n, order.k)])
    elif kind == "tree":
        w = order.k
        lanes = [seq(idx[j::w]) if j < n else None for j in range(w)]
        h = w // 2
        while h >= 1:
            for j in range(h):
                a, b = lanes[j], lanes[j + h]
                lanes[j] = a if b is None else (b if a is None else add(a, b))
            h //= 2
        root = lanes[0]
    else:
        raise UnsupportedOption(f"order_schedule: no schedule for order {order}")
    return steps, root
