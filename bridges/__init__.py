"""fpsem.bridges: cross-domain runs, error envelopes, the query API and `fpsem audit`.

    >>> import fpsem
    >>> env = fpsem.envelope(f, x, domain="float32", reference="exact")
    >>> env.node("y").bound_abs, env.worst(3), env.diverge(), env.decision()
"""
from .envelope import (Decision, Divergence, Envelope, NodeStats, UnknownNode, Verdict, envelope,
                       node_stats, run_domains)
from .record import ModelError, ModelSpec, RefData, record, resolve_model
from .observed import load_observed, observe, onnxruntime_nodes

__all__ = ["envelope", "Envelope", "run_domains", "NodeStats", "Decision", "Divergence", "Verdict",
           "UnknownNode", "ModelError", "ModelSpec", "RefData", "record", "resolve_model", "node_stats",
           "observe", "load_observed", "onnxruntime_nodes"]
