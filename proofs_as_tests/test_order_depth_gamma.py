"""Theorem (the k of gamma_k is the depth of the order). For every specified
accumulation order O in {sequential, pairwise, blocked(b), tree(w)} and every n >= 1,
`fpsem.order.order_schedule(O, n)` is a binary tree with exactly n - 1 additions in
which every term 0..n-1 is a leaf exactly once, and

    O.roundings(n)           = max over leaves of the number of additions on the
                               path from that leaf to the root (the tree depth),
    O.roundings(n, dot=True) = that depth + 1   (the product's own rounding).

In particular pairwise gives ceil(log2 n), sequential n - 1, blocked(b)
(min(b, n) - 1) + (ceil(n/b) - 1), tree(w) (ceil(n/w) - 1) + ceil(log2 min(n, w)).
Also fma_chain: n - 1 for sums, n for dots (the accumulator is rounded n times,
products never); exact_then_round: 1.

Consequence: with t_i the terms, the computed sum is sum t_i prod_{j in path(i)}
(1 + delta_j), so |fl(sum) - sum| <= gamma_k sum |t_i| with k = O.roundings(n)
(Higham Lemma 3.1 applied per term), which is the k that `fpsem.bounds`,
the envelopes and the dot-product-bound theorem use.

Source: Higham, "Accuracy and Stability of Numerical Algorithms", 2nd ed., 4.2
(eq. 4.3 and the discussion of pairwise summation, eq. 4.6) and 3.1 (eq. 3.5);
the order definitions are fpsem.order's module docstring.
"""
import math

from hypothesis import given
from hypothesis import strategies as st

from fpsem.order import (EXACT_THEN_ROUND, FMA_CHAIN, PAIRWISE, SEQUENTIAL, blocked,
                         order_schedule, tree)

orders = st.one_of(st.just(SEQUENTIAL), st.just(PAIRWISE),
                   st.integers(1, 300).map(blocked),
                   st.integers(0, 8).map(lambda e: tree(1 << e)))


def tree_depth(order, n):
    steps, root = order_schedule(order, n)
    parent = {}
    seen = []
    for dst, a, b in steps:
        assert a != b and a not in parent and b not in parent  # each node used once
        parent[a] = dst
        parent[b] = dst
        seen += [a, b]
    assert len(steps) == n - 1
    leaves = [i for i in seen if i < n]
    assert sorted(leaves) == (list(range(n)) if n > 1 else [])
    if n == 1:
        assert root == 0
        return 0
    assert root == steps[-1][0] and root not in parent

    def depth(i):
        d = 0
        while i in parent:
            i = parent[i]
            d += 1
        return d
    return max(depth(i) for i in range(n))


@given(orders, st.integers(1, 600))
def test_roundings_is_tree_depth(order, n):
    d = tree_depth(order, n)
    assert order.roundings(n) == d
    assert order.roundings(n, dot=True) == d + 1


@given(st.integers(1, 5000))
def test_closed_forms(n):
    assert PAIRWISE.roundings(n) == (math.ceil(math.log2(n)) if n > 1 else 0)
    assert SEQUENTIAL.roundings(n) == n - 1
    assert FMA_CHAIN.roundings(n) == n - 1 and FMA_CHAIN.roundings(n, dot=True) == n
    assert EXACT_THEN_ROUND.roundings(n) == 1 and EXACT_THEN_ROUND.roundings(n, dot=True) == 1


def test_edges():
    for n in (1, 2, 3, 31, 32, 33, 64, 65, 1024, 1025):
        for order in (SEQUENTIAL, PAIRWISE, blocked(1), blocked(32), blocked(n), blocked(n + 1),
                      tree(1), tree(32), tree(64)):
            assert order.roundings(n) == tree_depth(order, n), (order, n)
    assert SEQUENTIAL.roundings(0) == 0 and PAIRWISE.roundings(0) == 0
    assert order_schedule(SEQUENTIAL, 0) == ([], None)
    # blocked(1) and blocked(n) are both sequential; tree(1) is sequential
    assert order_schedule(blocked(1), 9) == order_schedule(SEQUENTIAL, 9)
    assert order_schedule(tree(1), 9) == order_schedule(SEQUENTIAL, 9)


def test_counterexample_depth_is_not_order_free():
    """The number of additions is n - 1 in every order but the depth is not: using
    the pairwise k for a sequential sum would understate the bound."""
    n = 1000
    assert tree_depth(SEQUENTIAL, n) == n - 1 > tree_depth(PAIRWISE, n) == 10
