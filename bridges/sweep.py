"""Decision-stability census: one model, many inputs, several float domains, on Dask.

    >>> from fpsem.bridges.sweep import run_sweep
    >>> s = run_sweep("examples/census.toml", "out/")        # serial here
    >>> s["domains"]["bf16"]["certified_fraction"]

A sweep spec (TOML) names a model, an input set, the float domains (with options)
and the reference; see `examples/census.toml` and `SPEC_KEYS`. Every input is one
`fpsem.envelope` run (the reference once, every float domain beside it); at every
position (row of the decision node: every next-token prediction of GPT-2)
`Envelope.decision(row)` gives each domain's float top-1, whether it is certain
within the domain's rigorous error bound, and the margin, beside the reference's
own verdict. Optionally the per-node maxima (observed error, rigorous bound).

Execution: inputs are cut into coarse chunks (`[run] chunk` inputs each, seconds of
work); a chunk travels as plain data (model spec, token ids, domain names and
options) and the model is built once per worker process (`_model`, an lru_cache
keyed by the model spec). The results store is the output directory: each
finished chunk becomes `chunks/chunk-NNNNNN.jsonl`, written atomically (temp file
in the same directory, fsync, os.replace) with the spec's hash in its header
line; a re-run skips the chunks already there, so an interrupted sweep resumes
without repeating or losing work. Records are sorted within a chunk and chunks are
read back in index order, so any schedule gives the serial run's bytes.
"""
from __future__ import annotations

import functools
import hashlib
import inspect
import json
import math
import os

import numpy as np

from fpsem.errors import FpsemError

SPEC_KEYS = {
    "model": "table: name (gpt2 or a zoo name), config (preset name or table of overrides), "
             "weights (HF checkpoint path, optional), seed (random weights)",
    "inputs": "table: kind = prompts (file, one prompt per line) | token_ids (ids = [[...]] or file) "
              "| random (count, length, seed); tokenizer vocab/merges optional",
    "domains": "array of tables: name plus that domain's options (rounding, acc, ftz, ...)",
    "reference": "domain name or table {name, options...}; default: fpsem.envelope's reference",
    "record": "table: positions = all | last, node_max = false | true",
    "run": "table: chunk = inputs per chunk, plot = true | false",
}
FORMAT = 1


class SweepError(FpsemError):
    """A sweep spec or results directory that cannot be used as given."""


# -- the spec ---------------------------------------------------------------------
def default_reference():
    """The reference fpsem.envelope uses when none is given (followed, not copied)."""
    from fpsem.semantics import default_reference as _default

    from .envelope import envelope
    ref = inspect.signature(envelope).parameters["reference"].default
    if ref == "auto":   # the envelope's choice for a model that is not rational
        ref = _default(rational=False)
    return ref


def _table(raw, key, required=False):
    v = raw.get(key)
    if v is None:
        if required:
            raise SweepError(f"sweep spec: missing [{key}] ({SPEC_KEYS[key]})")
        return {}
    if not isinstance(v, dict):
        raise SweepError(f"sweep spec: {key} must be a table ({SPEC_KEYS[key]})")
    return dict(v)


def _only(table, what, allowed):
    bad = sorted(set(table) - set(allowed))
    if bad:
        raise SweepError(f"sweep spec: unknown key {bad[0]!r} in {what}; allowed: {', '.join(allowed)}")


def _domain_entry(d, what):
    """(name, options) from 'name', 'name:opt=v,...' or {name=..., opt=...}."""
    if isinstance(d, str):
        name, _, rest = d.partition(":")
        opts = {}
        for item in filter(None, rest.split(",")):
            k, _, v = item.partition("=")
            opts[k.strip()] = {"true": True, "false": False}.get(v.strip().lower(), v.strip())
        return name.strip(), opts
    if isinstance(d, dict) and isinstance(d.get("name"), str):
        return d["name"], {k: v for k, v in d.items() if k != "name"}
    raise SweepError(f"sweep spec: {what} must be a domain name or a table with name = ..., got {d!r}")


def load_spec(path):
    """Parse a TOML sweep spec into a normalised dict (relative paths resolved)."""
    import tomllib
    try:
        with open(path, "rb") as f:
            raw = tomllib.load(f)
    except tomllib.TOMLDecodeError as e:
        raise SweepError(f"sweep spec {path}: not valid TOML: {e}") from None
    except UnicodeDecodeError as e:
        raise SweepError(f"sweep spec {path}: not UTF-8 text (byte {e.start})") from None
    return normalize(raw, os.path.dirname(os.path.abspath(path)))


def normalize(raw, base_dir="."):
    """Check a raw spec dict and return it normalised (every default filled in)."""
    if not isinstance(raw, dict):
        raise SweepError("sweep spec must be a table")
    _only(raw, "the spec", SPEC_KEYS)
    m = _table(raw, "model", required=True)
    _only(m, "[model]", ("name", "config", "weights", "seed"))
    if not isinstance(m.get("name"), str):
        raise SweepError("sweep spec: [model] needs name = \"gpt2\" (or a zoo name)")
    cfg = m.get("config")
    if cfg is not None and not isinstance(cfg, (str, dict)):
        raise SweepError("sweep spec: [model] config must be a preset name or a table of overrides")
    weights = m.get("weights")
    if weights is not None:
        weights = os.path.join(base_dir, str(weights))
        if not os.path.exists(weights):
            raise SweepError(f"sweep spec: weights {weights} not found")
    seed = m.get("seed", 0)
    if not isinstance(seed, int):
        raise SweepError("sweep spec: [model] seed must be an integer")
    model = {"name": m["name"], "config": cfg, "weights": weights, "seed": seed}

    inp = _table(raw, "inputs", required=True)
    kind = inp.get("kind")
    allowed = {"prompts": ("kind", "file", "vocab", "merges"),
               "token_ids": ("kind", "ids", "file"),
               "random": ("kind", "count", "length", "seed")}
    if kind not in allowed:
        raise SweepError(f"sweep spec: [inputs] kind must be one of {', '.join(allowed)}, got {kind!r}")
    _only(inp, f"[inputs] (kind = {kind})", allowed[kind])
    for k in ("file", "vocab", "merges"):
        if k in inp:
            inp[k] = os.path.join(base_dir, str(inp[k]))
    if kind == "random":
        for k, lo in (("count", 1), ("length", 1)):
            if not isinstance(inp.get(k), int) or inp[k] < lo:
                raise SweepError(f"sweep spec: [inputs] random needs {k} = a positive integer")
        inp.setdefault("seed", 0)
        if not isinstance(inp["seed"], int):
            raise SweepError("sweep spec: [inputs] seed must be an integer")
    if kind == "prompts" and "file" not in inp:
        raise SweepError("sweep spec: [inputs] prompts needs file = \"prompts.txt\" (one prompt per line)")
    if kind == "token_ids" and ("ids" in inp) == ("file" in inp):
        raise SweepError("sweep spec: [inputs] token_ids needs exactly one of ids = [[...], ...] or file")

    doms = raw.get("domains")
    if not isinstance(doms, list) or not doms:
        raise SweepError(f"sweep spec: missing [[domains]] ({SPEC_KEYS['domains']})")
    domains = [_domain_entry(d, "a [[domains]] entry") for d in doms]
    ref = raw.get("reference", default_reference())
    reference = _domain_entry(ref, "reference")

    rec = _table(raw, "record")
    _only(rec, "[record]", ("positions", "node_max"))
    positions = rec.get("positions", "all")
    if positions not in ("all", "last"):
        raise SweepError("sweep spec: [record] positions must be \"all\" or \"last\"")
    node_max = rec.get("node_max", False)
    if not isinstance(node_max, bool):
        raise SweepError("sweep spec: [record] node_max must be true or false")

    run = _table(raw, "run")
    _only(run, "[run]", ("chunk", "plot"))
    chunk = run.get("chunk", 4)
    if not isinstance(chunk, int) or chunk < 1:
        raise SweepError("sweep spec: [run] chunk must be a positive integer (inputs per chunk)")
    plot = run.get("plot", True)
    if not isinstance(plot, bool):
        raise SweepError("sweep spec: [run] plot must be true or false")

    spec = {"model": model, "inputs": inp, "domains": [[n, o] for n, o in domains],
            "reference": list(reference), "record": {"positions": positions, "node_max": node_max},
            "run": {"chunk": chunk, "plot": plot}}
    _check_domains(spec)
    return spec


def _check_domains(spec):
    from fpsem.registry import domain
    labels = []
    for name, opts in spec["domains"]:
        D = domain(name, **opts)
        if not D.is_float or D.format is None:
            raise SweepError(f"sweep spec: domain {D.label} is not a float domain; "
                             f"give it as reference = \"{name}\"")
        if D.label in labels:
            raise SweepError(f"sweep spec: domain {D.label} is listed twice")
        labels.append(D.label)
    domain(spec["reference"][0], **spec["reference"][1])
    return labels


def resolve_inputs(spec):
    """The inputs as a list of travelling payloads (token-id lists for gpt2)."""
    inp = spec["inputs"]
    kind = inp["kind"]
    name = spec["model"]["name"]
    if kind == "random" and name != "gpt2":
        return [{"random": [inp["seed"], i]} for i in range(inp["count"])]
    if name != "gpt2":
        raise SweepError(f"sweep spec: inputs of kind {kind!r} are for gpt2; use kind = \"random\" for {name}")
    vocab, npos = _gpt2_limits(spec["model"])
    if kind == "random":
        out = []
        for i in range(inp["count"]):
            rng = np.random.default_rng([inp["seed"], i])
            out.append(rng.integers(0, vocab, size=inp["length"]).tolist())
    elif kind == "prompts":
        from fpsem.models.tokenizer import get_tokenizer
        w = spec["model"]["weights"]
        tok = get_tokenizer(inp.get("vocab"), inp.get("merges"),
                            directory=w if w and os.path.isdir(w) else None)
        with open(inp["file"], encoding="utf-8") as f:
            lines = [ln.rstrip("\n") for ln in f]
        prompts = [ln for ln in lines if ln.strip()]
        if not prompts:
            raise SweepError(f"sweep spec: prompts file {inp['file']} has no prompts")
        out = [list(map(int, tok.encode(p))) for p in prompts]
    else:
        if "ids" in inp:
            rows = inp["ids"]
        else:
            with open(inp["file"], encoding="utf-8") as f:
                rows = [ln.replace(",", " ").split() for ln in f if ln.strip()]
        out = []
        for r in rows:
            try:
                out.append([int(t) for t in r])
            except (TypeError, ValueError):
                raise SweepError(f"sweep spec: token ids must be integers, got {r!r}") from None
    for i, ids in enumerate(out):
        if not ids:
            raise SweepError(f"sweep spec: input {i} has no tokens")
        if vocab is not None and not all(0 <= t < vocab for t in ids):
            raise SweepError(f"sweep spec: input {i} has a token id outside the vocabulary [0, {vocab})")
        if npos is not None and len(ids) > npos:
            raise SweepError(f"sweep spec: input {i} has {len(ids)} tokens, more than the context length {npos}")
    return out


def _gpt2_limits(model):
    if model["weights"] is not None:
        return None, None  # from the checkpoint's config: checked by the model on the worker
    from fpsem.models.base import config_from
    from fpsem.models.gpt2 import CONFIGS, GPT2Config
    cfg = config_from(GPT2Config, CONFIGS, model["config"])
    return cfg.vocab_size, cfg.n_positions


def _weights_fingerprint(path):
    if path is None:
        return None
    files = [path] if os.path.isfile(path) else sorted(
        os.path.join(path, f) for f in os.listdir(path) if os.path.isfile(os.path.join(path, f)))
    return [[os.path.basename(f), os.path.getsize(f), os.stat(f).st_mtime_ns] for f in files]


def spec_hash(spec, inputs):
    """sha256 of everything that determines the results (the resolved inputs, not the
    file names), so a changed prompt file or default reference is a different sweep."""
    payload = {"format": FORMAT, "model": spec["model"], "weights": _weights_fingerprint(spec["model"]["weights"]),
               "inputs": inputs, "domains": spec["domains"], "reference": spec["reference"],
               "record": spec["record"], "chunk": spec["run"]["chunk"]}
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


# -- one chunk (runs on a worker) -----------------------------------------------------
@functools.lru_cache(maxsize=2)
def _model(key):
    """The model, built once per worker process and model spec."""
    from fpsem.models import get_model
    m = json.loads(key)
    return get_model(m["name"], config=m["config"], weights=m["weights"], seed=m["seed"])


def _input_arrays(model, payload):
    if isinstance(payload, dict):
        seed, i = payload["random"]
        rng = np.random.default_rng([seed, i])
        out = []
        for a in model.default_inputs():
            a = np.asarray(a)
            if a.dtype.kind != "f":
                raise SweepError(f"model {model.name}: random inputs need float inputs, it takes {a.dtype}")
            out.append(rng.standard_normal(a.shape).astype(a.dtype))
        return tuple(out)
    return (np.asarray(payload, dtype=np.int64),)


def _f(v):
    return None if v is None else float(v)


def sweep_chunk(job):
    """Records of one chunk: job = {model, domains, reference, record, inputs: [[i, payload]]}."""
    from fpsem.registry import domain

    from .envelope import envelope
    model = _model(json.dumps(job["model"], sort_keys=True))
    Ds = [domain(n, **o) for n, o in job["domains"]]
    R = domain(job["reference"][0], **job["reference"][1])
    records = []
    for i, payload in job["inputs"]:
        env = envelope(model, _input_arrays(model, payload), domain=Ds, reference=R,
                       apriori=False, compare=(), decision="auto")
        rows = env.decision().rows
        for r in (range(rows) if job["record"]["positions"] == "all" else [rows - 1]):
            dec = env.decision(row=r)
            ref = dec.reference
            for di, D in enumerate(Ds):
                v = dec.domains[D.label]
                records.append({"input": i, "pos": r, "d": di, "domain": D.label, "top1": v.top1,
                                "certain": v.certain, "margin": _f(v.margin), "runner_up": v.runner_up,
                                "ref_top1": ref.top1, "ref_certain": ref.certain, "ref_margin": _f(ref.margin),
                                "differs": bool(ref.certain) and v.top1 != ref.top1})
        if job["record"]["node_max"]:
            for di, D in enumerate(Ds):
                nodes = {s.name: [_f(s.max_abs), _f(s.max_ulp), _f(s.bound_abs)] for s in env.stats(D.label)}
                records.append({"input": i, "pos": None, "d": di, "domain": D.label, "nodes": nodes})
    records.sort(key=lambda x: (x["input"], -1 if x["pos"] is None else x["pos"], x["d"]))
    return records


# -- the results store --------------------------------------------------------------
def atomic_write(path, data: bytes):
    """Write bytes to path so that path holds either its old content or all of data."""
    from fpsem.io import atomic_write as _atomic
    _atomic(path, lambda fh: fh.write(data), binary=True)


def _chunk_path(out, index):
    return os.path.join(out, "chunks", f"chunk-{index:06d}.jsonl")


def write_chunk(out, index, h, inputs, records):
    lines = [json.dumps({"spec_hash": h, "chunk": index, "inputs": inputs, "records": len(records)},
                        sort_keys=True)]
    lines += [json.dumps(r, sort_keys=True) for r in records]
    atomic_write(_chunk_path(out, index), ("\n".join(lines) + "\n").encode())


def read_chunk(out, index, h):
    """The records of a finished chunk of this spec, or None."""
    p = _chunk_path(out, index)
    try:
        with open(p, encoding="utf-8") as f:
            lines = f.read().splitlines()
        head = json.loads(lines[0])
        recs = [json.loads(x) for x in lines[1:]]
    except (OSError, ValueError, IndexError):
        return None
    if head.get("spec_hash") != h or head.get("records") != len(recs):
        return None
    return recs


def _prepare_out(out, spec, h):
    os.makedirs(os.path.join(out, "chunks"), exist_ok=True)
    meta = os.path.join(out, "spec.json")
    if os.path.exists(meta):
        try:
            with open(meta, encoding="utf-8") as f:
                old = json.load(f).get("spec_hash")
        except (OSError, ValueError):
            old = None
        if old != h:
            raise SweepError(f"{out} holds results of another sweep (spec hash {old}, this one {h}); "
                             f"use a new --out directory or delete it")
    else:
        atomic_write(meta, (json.dumps({"spec_hash": h, "spec": spec}, indent=1, sort_keys=True,
                                       default=str) + "\n").encode())
    for name in os.listdir(os.path.join(out, "chunks")):
        if name.startswith("."):   # a temporary file left by a run killed mid-write
            os.unlink(os.path.join(out, "chunks", name))


# -- the sweep ------------------------------------------------------------------------
def plan(spec):
    """(hash, inputs, chunks): chunks as [(index, [[i, payload], ...]), ...]."""
    inputs = resolve_inputs(spec)
    h = spec_hash(spec, inputs)
    c = spec["run"]["chunk"]
    chunks = [(k, [[i, inputs[i]] for i in range(s, min(s + c, len(inputs)))])
              for k, s in enumerate(range(0, len(inputs), c))]
    return h, inputs, chunks


def _job(spec, items):
    return {"model": spec["model"], "domains": spec["domains"], "reference": spec["reference"],
            "record": spec["record"], "inputs": items}


def _tagged(chunk_fn, index, job):
    return index, chunk_fn(job)


def run_sweep(spec, out, client=None, progress=None, chunk_fn=None, plot=None):
    """Run (or resume) the sweep `spec` (a path or a normalised dict) into directory
    `out`, on the Dask `client` (None: serially here). Returns the summary dict."""
    if isinstance(spec, (str, os.PathLike)):
        spec = load_spec(spec)
    h, inputs, chunks = plan(spec)
    _prepare_out(out, spec, h)
    todo = [(k, items) for k, items in chunks if read_chunk(out, k, h) is None]
    done_before = len(chunks) - len(todo)
    fn = chunk_fn or sweep_chunk
    from .dask_run import run_tasks
    args = [(fn, k, _job(spec, items)) for k, items in todo]
    for k, recs in run_tasks(_tagged, args, client=client, progress=progress,
                             description=f"sweep {len(inputs)} inputs"):
        write_chunk(out, k, h, [it[0] for it in chunks[k][1]], recs)
    records = load_results(out, h, len(chunks))
    labels = [_label(n, o) for n, o in spec["domains"]]
    from fpsem.io import json_header
    # `inputs` is the header's hashes (the spec hash covers model, weights and resolved inputs)
    summary = {**json_header("sweep", {"spec_hash": h}), **summarize(records, labels)}
    summary.update(spec_hash=h, n_inputs=len(inputs), chunks=len(chunks), chunks_resumed=done_before,
                   chunks_run=len(todo), reference=_label(*spec["reference"]), model=spec["model"]["name"])
    atomic_write(os.path.join(out, "summary.json"),
                 (json.dumps(summary, indent=1, sort_keys=True) + "\n").encode())
    if (spec["run"]["plot"] if plot is None else plot):
        summary["plot"] = plot_margins(records, labels, os.path.join(out, "margins.png"),
                                       title=f"{spec['model']['name']}: decision margins vs {summary['reference']}")
    return summary


def _label(name, opts):
    from fpsem.registry import domain
    return domain(name, **opts).label


def load_results(out, h, n_chunks):
    """Every record of the sweep, chunk by chunk in index order."""
    recs = []
    for k in range(n_chunks):
        r = read_chunk(out, k, h)
        if r is None:
            raise SweepError(f"chunk {k} of {out} is missing after the run")
        recs.extend(r)
    return recs


def _quantiles(v):
    if not v:
        return None
    a = np.sort(np.asarray(v, dtype=np.float64))
    return {k: float(np.quantile(a, q)) for k, q in
            (("min", 0.0), ("p01", 0.01), ("p10", 0.1), ("p50", 0.5), ("p90", 0.9), ("max", 1.0))}


def summarize(records, labels):
    """Per domain: positions, certified-stable fraction, positions whose float top-1
    differs from the reference's certified top-1, margin quantiles."""
    out = {"domains": {}}
    for lab in labels:
        rs = [r for r in records if r["domain"] == lab and r.get("pos") is not None]
        n = len(rs)
        cert = sum(1 for r in rs if r["certain"])
        margins = [r["margin"] for r in rs if r["margin"] is not None and math.isfinite(r["margin"])]
        out["domains"][lab] = {
            "positions": n,
            "certified": cert,
            "certified_fraction": cert / n if n else None,
            "reference_certified": sum(1 for r in rs if r["ref_certain"]),
            "differs_from_real": sum(1 for r in rs if r["differs"]),
            "differs_at": [[r["input"], r["pos"]] for r in rs if r["differs"]][:50],
            "not_certified_at": [[r["input"], r["pos"]] for r in rs if not r["certain"]][:50],
            "margin": _quantiles(margins),
            "margin_nonfinite": n - len(margins),
        }
    return out


def plot_margins(records, labels, path, title=None):
    """Histogram of the decision margins per domain, written atomically as PNG
    (None when matplotlib is missing)."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    import io
    fig, ax = plt.subplots(figsize=(7, 4))
    allm = [r["margin"] for r in records if r.get("margin") is not None and math.isfinite(r["margin"])]
    if allm:
        lo, hi = min(allm), max(allm)
        bins = np.linspace(lo, hi if hi > lo else lo + 1, 41)
        for lab in labels:
            m = [r["margin"] for r in records if r["domain"] == lab and r.get("margin") is not None
                 and math.isfinite(r["margin"])]
            ax.hist(m, bins=bins, histtype="step", label=f"{lab} ({len(m)} positions)")
    ax.axvline(0, color="k", lw=0.8, ls="--")
    ax.set_xlabel("margin: lower bound of the top-1 logit - max upper bound of the others")
    ax.set_ylabel("positions")
    ax.set_title(title or "decision margins")
    ax.legend(fontsize=8)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, metadata={"Software": None})
    plt.close(fig)
    atomic_write(path, buf.getvalue())
    return path
