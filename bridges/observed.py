"""Other runtimes as observed domains: values fpsem did not compute, measured
node by node against fpsem's reference with the same rigorous bounds.

    >>> env = fpsem.bridges.observe("model.onnx", "torch_gpu_nodes.npz", inputs)
    >>> env.node("/h.0/attn/MatMul_output_0").bound_abs   # |observed - real| <= bound
    >>> vals, note, plain = onnxruntime_nodes(m, inputs)
    >>> env = fpsem.bridges.observe(m, {"onnxruntime": vals, "onnxruntime-plain": plain}, inputs)

`observed` maps node names (the names fpsem's run taps: for ONNX models, the node
output names) to arrays, or is an .npz holding them. The reference (default:
interval, rigorous) runs the model once on the same inputs; each observed array is
compared with the reference value of the node of that name with `node_stats`, as
a float domain of the array's format (float32 -> binary32 ulps). Nodes the
reference has but the observation lacks are simply absent; names the reference
never recorded are listed in the notes.

Because the runtime's values are observations, not fpsem's computation, the bound
says how far *that runtime's* value is from the real result of the model on these
inputs; it needs no declaration of how the runtime computes.
"""
from __future__ import annotations

import os
import time

import numpy as np

from fpsem.errors import FpsemError
from fpsem.formats import FORMATS
from fpsem.registry import domain as make_domain

from .record import ModelSpec, record, reference_data, reference_kind, resolve_model


class ObservedDomain:
    """Stands in for a float domain in the statistics: a label and a storage format."""
    is_float = True
    is_enclosure = False

    def __init__(self, label, fmt):
        self.label = self.name = label
        self.format = fmt


_FMT_OF = {np.dtype(np.float32): "binary32", np.dtype(np.float64): "binary64",
           np.dtype(np.float16): "binary16"}


def load_observed(observed):
    """dict name -> ndarray from a dict or an .npz path."""
    if isinstance(observed, (str, os.PathLike)):
        try:
            with np.load(observed) as z:
                return {k: z[k] for k in z.files}
        except (OSError, ValueError) as e:
            raise FpsemError(f"observed values {observed}: cannot read it as .npz ({e})") from None
    if not isinstance(observed, dict):
        raise FpsemError(f"observed values must be a dict name -> array or an .npz path, "
                         f"got {type(observed).__name__}")
    return {str(k): np.asarray(v) for k, v in observed.items()}


def observe(model, observed, inputs=None, *, reference="interval", label="observed", config=None,
            progress=None, model_opts=None, decision="auto"):
    """Envelope of externally observed node values against `reference`.

    model: anything fpsem.envelope accepts (zoo name, .onnx path, model object, callable).
    observed: dict node name -> array, or an .npz; arrays must have the node's shape;
    or {label: such a dict} for several observed runs measured against one reference run.
    Returns an Envelope whose "domains" are the labels (e.g. "onnxruntime"), the first
    primary."""
    from .envelope import Envelope, decision_rows, float_bounds, node_stats
    spec = model if isinstance(model, ModelSpec) else resolve_model(model, inputs, config, **(model_opts or {}))
    if isinstance(observed, dict) and observed and all(isinstance(v, dict) for v in observed.values()):
        runs = {str(k): load_observed(v) for k, v in observed.items()}
    else:
        runs = {label: load_observed(observed)}
    R = make_domain(reference) if isinstance(reference, str) else reference
    rkind = reference_kind(R)
    refs, notes = {}, list(spec.notes)
    wanted = set().union(*runs.values())

    def on_ref(name, x):
        if name in wanted:
            refs[name] = reference_data(R, x, rkind)

    t0 = time.perf_counter()
    _, nodes, _ = record(spec, R, on_ref, progress)
    timings = {R.label: time.perf_counter() - t0}
    seen = [n for n in nodes if n in refs]
    if not seen:
        raise FpsemError(f"none of the {len(wanted)} observed names is a node of {spec.name} "
                         f"(its nodes: {', '.join(nodes[:5])}, ...)")
    stats, dec_float = {}, {}
    for lab, obs in runs.items():
        unknown = [n for n in obs if n not in refs]
        if unknown:
            notes.append(f"{lab}: {len(unknown)} observed name(s) not recorded by the reference run "
                         f"(e.g. {', '.join(unknown[:3])})")
        st, fmts = {}, set()
        for i, name in enumerate(nodes):
            if name not in refs or name not in obs:
                continue
            a = obs[name]
            fmt = FORMATS[_FMT_OF.get(a.dtype, "binary32")]
            fmts.add(fmt.name)
            f = np.asarray(a, dtype=np.float64)
            if f.shape != refs[name].shape:
                raise FpsemError(f"{lab}: node {name} has shape {f.shape}, the reference {refs[name].shape}")
            with np.errstate(invalid="ignore", over="ignore"):  # an observed inf gives an inf bound
                st[name] = node_stats(name, i, ObservedDomain(lab, fmt), f, refs[name], R.label)
        stats[lab] = st
        notes.append(f"{lab}: observed values (not computed by fpsem), format {'/'.join(sorted(fmts))}")
    dnode = (seen[-1] if decision == "auto" else decision) if decision else None
    decision_data = None
    if dnode in refs:
        r = refs[dnode]
        for lab, obs in runs.items():
            if dnode in obs:
                f = np.asarray(obs[dnode], dtype=np.float64)
                lo, hi = float_bounds(f, r) if r.rigorous else (f, f)
                dec_float[lab] = tuple(decision_rows(v, spec.decision_axis) for v in (lo, hi, f))
        decision_data = {"node": dnode,
                         "ref": tuple(decision_rows(v, spec.decision_axis) for v in (r.lo, r.hi, r.point)),
                         "float": dec_float}
    return Envelope(spec.name, list(runs), R.label, rkind, seen, stats, [], {}, {},
                    decision_data, timings, notes)


def onnxruntime_nodes(model, inputs=None, providers=("CPUExecutionProvider",)):
    """Run an ONNX model (path or fpsem OnnxModel) in onnxruntime with every float
    node output exposed as a graph output. Returns (dict node name -> array, note,
    dict graph output name -> array of a plain, uninstrumented session).

    Exposing an intermediate value keeps onnxruntime from fusing across it, so the
    instrumented run can differ from the plain one; the final outputs of a plain
    session are compared with the instrumented ones and the note says whether
    they are bit-identical."""
    try:
        import onnxruntime as ort
    except ImportError:
        raise FpsemError("--compare onnxruntime needs onnxruntime: pip install 'fpsem[onnx]'") from None
    import onnx
    from onnx import helper, shape_inference

    from fpsem.models import get_model
    m = get_model(model) if isinstance(model, str) else model
    if not hasattr(m, "proto"):
        raise FpsemError("--compare onnxruntime applies to ONNX models (a .onnx file)")
    if inputs is None:
        inputs = m.default_inputs()
    feeds = m.feeds(tuple(inputs) if isinstance(inputs, (tuple, list)) else (inputs,))
    # which names fpsem taps: a float32 run of the interpreter (cheap, exact names)
    names = []
    from fpsem import trace
    D = make_domain("float32")
    with trace.recording(lambda n, _D, _x: names.append(n)):
        m.run(D, feeds)
    proto = onnx.ModelProto()
    proto.CopyFrom(m.proto)
    try:
        inferred = shape_inference.infer_shapes(proto)
        types = {vi.name: vi.type.tensor_type.elem_type for vi in
                 list(inferred.graph.value_info) + list(inferred.graph.output) + list(inferred.graph.input)}
    except Exception:  # noqa: BLE001 - inference is an aid; FLOAT is the fallback
        types = {}
    have = {o.name for o in proto.graph.output}
    ins = set(m.input_names)
    for n in names:
        if n not in have and n not in ins:
            proto.graph.output.append(helper.make_tensor_value_info(n, types.get(n, 1), None))
    ort_feeds = {k: np.asarray(v) for k, v in feeds.items()}
    sess = ort.InferenceSession(proto.SerializeToString(), providers=list(providers))
    outs = sess.run(None, ort_feeds)
    res = {o.name: np.asarray(v) for o, v in zip(sess.get_outputs(), outs)}
    for n in ins:
        if n in names:
            res[n] = np.asarray(feeds[n])
    plain = ort.InferenceSession(m.proto.SerializeToString(), providers=list(providers))
    pouts = plain.run(None, ort_feeds)
    same = all(np.array_equal(np.asarray(p), res[o.name], equal_nan=True)
               for o, p in zip(plain.get_outputs(), pouts) if o.name in res)
    note = (f"onnxruntime {ort.__version__} ({', '.join(providers)}), {len(names)} node outputs exposed; "
            f"final outputs {'bit-identical to' if same else 'DIFFER from'} a plain session's")
    plain_out = {o.name: np.asarray(p) for o, p in zip(plain.get_outputs(), pouts)}
    return {n: res[n] for n in names if n in res}, note, plain_out


__all__ = ["observe", "load_observed", "onnxruntime_nodes", "ObservedDomain"]
