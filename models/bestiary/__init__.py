"""The bestiary: well-known architectures as data, with parameter counts, MACs and the
a-priori float error bounds of their reductions, all computed from the specs.

    >>> from fpsem.models.bestiary import get
    >>> get("ResNet-50").params()
    25557032
"""
from .catalog import CATALOG, Entry, Tower, get
from .layers import KINDS, Layer, Trace
from .report import detail, layer_bound, summary, table

__all__ = ["CATALOG", "Entry", "Tower", "get", "KINDS", "Layer", "Trace",
           "detail", "layer_bound", "summary", "table"]
