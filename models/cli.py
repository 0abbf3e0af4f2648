"""`fpsem run MODEL` and `fpsem models`.

`fpsem run gpt2 --domain ieee32,float32` runs the same inputs under every listed
domain (progress bar over blocks and domains), prints the top next tokens per
domain, where the domains' logits differ, the envelope summary per block from
fpsem.bridges against the reference (default: interval), and whether the top-1
token is certain (the reference enclosure's lower bound for it exceeds every
other token's upper bound).
"""
from __future__ import annotations

import json
import os
import re
import time

import click
import numpy as np
from rich.markup import escape  # names, paths and notes are text, not rich markup

from fpsem.console import check_json_out, json_option
from fpsem.errors import FpsemError, ShapeError


def _console(stderr=False):
    from fpsem.console import make_console
    return make_console(stderr=stderr, soft_wrap=False)


_ID = re.compile(r"[0-9]+")


def _parse_ids(text):
    """'1,2, 3' -> int64 ids. Strict: "1 2 3" (not 123), "1,,2", "1_000", "+1",
    "-1" and ids beyond int64 are errors, not silently reinterpreted."""
    items = [s.strip() for s in text.split(",")]
    if items == [""]:
        raise ShapeError("--token-ids is empty")
    for s in items:
        if not _ID.fullmatch(s):
            what = "an empty item" if s == "" else repr(s)
            raise ShapeError(f"--token-ids must be comma-separated non-negative integers; {what} is not one")
        if len(s) > 18:
            raise ShapeError(f"--token-ids: {s} is not a token id (too large)")
    return np.array([int(s) for s in items], dtype=np.int64)


def _domains(spec, rounding, ftz, acc, daz=False):
    from fpsem.registry import domain_from_spec, split_domain_specs
    names = split_domain_specs(spec)
    if not names:
        raise FpsemError("--domain names no domain")
    opts = {}
    if rounding is not None:
        opts["rounding"] = rounding
    if ftz:
        opts["ftz"] = True
    if daz:
        opts["daz"] = True
    if acc is not None:
        opts["acc"] = acc
    out = []
    for n in names:
        D = domain_from_spec(n, **opts)  # 'ieee32:rounding=rtz' as in `fpsem envelope`
        if D in out:
            raise FpsemError(f"--domain lists {D.label} twice")
        out.append(D)
    return out


def _tok_repr(tok, i):
    from rich.markup import escape  # token text such as "[the]" is not rich markup
    s = tok.token_str(i)
    return escape(json.dumps(s, ensure_ascii=False))


class _Bar:
    """A rich progress bar over the blocks of every forward pass (on stderr)."""

    def __init__(self, total, enabled=True):
        self.total, self.enabled = total, enabled
        self.p = None

    def __enter__(self):
        if self.enabled:
            from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn,
                                       TimeElapsedColumn)
            self.p = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                              TimeElapsedColumn(), console=_console(stderr=True), transient=False)
            self.p.__enter__()
            self.task = self.p.add_task("running", total=self.total)
        return self

    def describe(self, text):
        if self.p:
            self.p.update(self.task, description=text)

    def advance(self, label=""):
        if self.p:
            t = self.p.tasks[0]
            if t.completed + 1 > t.total:
                self.p.update(self.task, total=t.completed + 1)
            self.p.advance(self.task)

    def __exit__(self, *exc):
        if self.p:
            self.p.__exit__(*exc)


def _run_one(model, D, inputs, bar, want_cache):
    from fpsem.trace import progress
    bar.describe(f"{model.name} [{D.label}]")
    t0 = time.perf_counter()
    with progress(bar.advance):
        if want_cache:
            out, cache = model.forward(D, *inputs, return_cache=True)
        else:
            out, cache = model.forward(D, *inputs), None
    return out, cache, time.perf_counter() - t0


def _preload(*modules):
    """Import `modules` on a second thread while this one makes the model's weights
    (numba kernels read from the cache, ml_dtypes' dtype registration: about 1 s
    of a GPT-2 small run, overlapped with the weights' random numbers, which
    release the GIL). An import that fails there fails again, with its message,
    where the module is used."""
    import importlib
    import threading

    def load():
        for name in modules:
            try:
                importlib.import_module(name)
            except Exception:   # reported by the real import later
                pass
    threading.Thread(target=load, name="fpsem-preload", daemon=True).start()


def _bridge_envelope():
    """fpsem.envelope if fpsem.bridges provides one in this build, else None."""
    try:
        import fpsem.bridges as br
    except ImportError:
        return None
    if getattr(br, "envelope", None) is None:
        return None
    import fpsem
    return fpsem.envelope


def _block_of(name):
    """h.3.mlp.c_fc -> h.3; encoder.layer.3.s0.output.dense -> encoder.layer.3; ln_f -> ln_f."""
    parts = name.split(".")
    for k in (1, 2):
        if len(parts) > k and parts[k].isdigit():
            return ".".join(parts[:k + 1])
    return parts[0].split("#")[0]


def _block_rows(stats):
    """Per-block maxima of the node statistics, blocks in order of appearance."""
    rows = {}
    for s in stats:
        b = _block_of(s.name)
        r = rows.setdefault(b, {"block": b, "nodes": 0, "max_abs": 0.0, "max_ulp": 0.0,
                                "bound_abs": None, "tightness": None, "apriori_ratio": None,
                                "reference_too_wide": 0, "last_node": s.name})
        r["nodes"] += 1
        r["last_node"] = s.name
        if s.measured:
            r["max_abs"] = max(r["max_abs"], float(s.max_abs))
            r["max_ulp"] = max(r["max_ulp"], float(s.max_ulp))
        else:
            r["reference_too_wide"] += 1
        if s.bound_abs is not None:
            r["bound_abs"] = max(r["bound_abs"] or 0.0, float(s.bound_abs))
        if s.tightness is not None:
            r["tightness"] = max(r["tightness"] or 1.0, float(s.tightness))
        if s.apriori_ratio is not None:
            r["apriori_ratio"] = max(r["apriori_ratio"] or 0.0, float(s.apriori_ratio))
    for r in rows.values():
        if r["reference_too_wide"] == r["nodes"]:
            r["max_abs"] = r["max_ulp"] = None
    return list(rows.values())


def _block_table(console, title, rows):
    """Per block: the observed error (known to the reference radius), the rigorous
    bound, how tight the bound is (bound / observed) and observed / a-priori."""
    from rich.table import Table
    t = Table(title=title)
    for col in ("block", "nodes", "max |err|", "max ulp", "rigorous bound", "bound/observed", "obs/a-priori"):
        t.add_column(col, justify="left" if col == "block" else "right")
    for r in rows:
        if r["max_abs"] is None:
            err, ulps = "ref too wide", "-"
        else:
            err = f"{r['max_abs']:.3g}" + (f" ({r['reference_too_wide']} too wide)" if r["reference_too_wide"] else "")
            ulps = f"{r['max_ulp']:.3g}"
        tight = r["tightness"]
        tight = "-" if tight is None else (f"1+{tight - 1:.1e}" if tight - 1 < 1e-3 else f"{tight:.3g}")
        t.add_row(r["block"], str(r["nodes"]), err, ulps,
                  "-" if r["bound_abs"] is None else f"{r['bound_abs']:.3g}", tight,
                  "-" if r["apriori_ratio"] is None else f"{r['apriori_ratio']:.3g}")
    console.print(t)


def _jsonable(x):
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if isinstance(x, (np.integer,)):
        return int(x)
    if isinstance(x, (np.floating, float)):
        f = float(x)
        return f if np.isfinite(f) else str(f)
    if isinstance(x, np.ndarray):
        return _jsonable(x.tolist())
    if isinstance(x, (str, int, bool)) or x is None:
        return x
    return str(x)


@click.command("run")
@click.argument("model_name", metavar="MODEL")
@click.option("--config", "-c", "config", default=None, help="config preset (gpt2: tiny, small, medium, large, xl)")
@click.option("--weights", "-w", default=None,
              help="HF checkpoint: gpt2 a model.safetensors, an index.json of shards or a directory; "
                   "bert a directory (config.json, safetensors, tokenizer.json)")
@click.option("--seed", type=click.IntRange(0, 2**63 - 1), default=0, show_default=True,
              help="seed of the random weights")
@click.option("--domain", "-d", "domain_spec", default="ieee32", show_default=True,
              help="domain(s), comma separated; the first is the one --save-logits writes")
@click.option("--rounding", default=None, help="rounding mode for the domains (rne, rtz, rup, rdn, rna)")
@click.option("--ftz", is_flag=True, help="flush subnormal results to zero")
@click.option("--daz", is_flag=True, help="treat subnormal inputs as zero (CUDA's -ftz=true does both: pass --ftz --daz)")
@click.option("--acc", default=None, help="accumulation order (sequential, pairwise, blocked(k), ...)")
@click.option("--reference", "-r", default="auto", show_default=True,
              help="reference for the envelope: auto (exact for rational models, else a ball with "
                   "automatic precision), ball, ball:prec=N, interval, exact, or 'none'")
@click.option("--prompt", "-p", "prompts", multiple=True,
              help="prompt text (gpt2: one; bert: repeat it, the first is the query whose cosine "
                   "similarity with each other prompt is the output)")
@click.option("--token-ids", default=None, help="comma-separated token ids (gpt2)")
@click.option("--tokens", "-n", "n_tokens", type=click.IntRange(1), default=None, help="N tokens of the built-in prompt (gpt2)")
@click.option("--vocab", default=None, help="GPT-2 vocab.json for BPE")
@click.option("--merges", default=None, help="GPT-2 merges.txt for BPE")
@click.option("--generate", "-g", "n_generate", type=click.IntRange(0), default=0, help="greedily decode K tokens (KV cache)")
@click.option("--top", "n_top", type=click.IntRange(1, 100), default=5, show_default=True, help="how many top tokens to show")
@json_option("json_out", "a report")
@click.option("--save-logits", default=None,
              help="write the first domain's output as a float64 .npy file to exactly this path")
@click.option("--no-progress", is_flag=True, help="no progress bar")
@click.option("--inputs", "inputs_path", default=None, help="model inputs from an .npz (by graph input name, or in order)")
@click.option("--onnx-semantics", type=click.Choice(["body", "op"]), default=None,
              help="ONNX ops defined by a function body (LayerNormalization, Gelu): run ONNX's body "
                   "(default) or fpsem's op")
@click.option("--compare", "compare", default=None,
              help="measure another runtime's node values against the reference: 'onnxruntime' "
                   "(ONNX models) or an .npz of node name -> array")
def run_cmd(model_name, config, weights, seed, domain_spec, rounding, ftz, daz, acc, reference, prompts,
            token_ids, n_tokens, vocab, merges, n_generate, n_top, json_out, save_logits, no_progress,
            inputs_path=None, onnx_semantics=None, compare=None):
    """Run MODEL (gpt2, a zoo model or an .onnx file) under one or more domains and compare."""
    from rich.markup import escape

    import fpsem
    from fpsem.io import check_output_path, write_npy, write_text

    from . import get_model
    from .bert import BUILTIN_PROMPTS as BERT_PROMPTS
    from .values import as_saved, bounds, point, top1_certain

    # output paths are checked before the run (a typo must not cost the run)
    if json_out != "-":
        check_output_path(json_out, "--json")
    check_output_path(save_logits, "--save-logits")

    # cheap checks first: a bad option must not wait for the model to load
    parsed_ids = _parse_ids(token_ids) if token_ids is not None else None
    _domains(domain_spec, rounding, ftz, acc, daz)

    is_onnx = model_name.lower().endswith(".onnx")
    if onnx_semantics is not None and not is_onnx:
        raise FpsemError("--onnx-semantics applies to .onnx models")
    if compare == "onnxruntime" and not is_onnx:
        raise FpsemError("--compare onnxruntime applies to .onnx models; pass an .npz of node values instead")
    if is_onnx:
        if config is not None:
            raise FpsemError("--config is for zoo models; an ONNX file has its own graph")
        config = onnx_semantics or "body"
    if reference.strip().lower() != "none":
        _preload("fpsem.bridges.envelope", "ml_dtypes")
    model = get_model(model_name, config=config, weights=weights, seed=seed)
    is_lm = model.name == "gpt2"
    is_bert = model.name == "bert"
    if is_bert and (token_ids or n_tokens or vocab or merges or n_generate):
        raise FpsemError("--token-ids/--tokens/--vocab/--merges/--generate are for gpt2; bert takes --prompt")
    if not is_lm and not is_bert and (prompts or token_ids or n_tokens or vocab or merges or n_generate):
        raise FpsemError(f"--prompt/--token-ids/--tokens/--vocab/--merges/--generate are for gpt2, not {model.name}")
    if is_lm and len(prompts) > 1:
        raise FpsemError("gpt2 takes one --prompt (several are for bert's sentence similarity)")
    prompt = prompts[0] if prompts and is_lm else None
    if sum(x is not None for x in (prompt, token_ids, n_tokens)) > 1:
        raise FpsemError("give at most one of --prompt, --token-ids, --tokens")
    if n_generate < 0:
        raise FpsemError("--generate must be >= 0")
    domains = _domains(domain_spec, rounding, ftz, acc, daz)
    R = None
    if reference.strip().lower() != "none":
        from fpsem.bridges.envelope import _as_domain
        from fpsem.semantics import default_reference
        if reference.strip().lower() == "auto":
            reference = default_reference(bool(getattr(model, "is_rational", False)))
        R = _as_domain(reference, "--reference")

    tok = None
    if is_lm:
        from .gpt2 import builtin_ids
        from .tokenizer import get_tokenizer
        tok = get_tokenizer(vocab, merges, directory=weights if weights and os.path.isdir(weights) else None)
        if prompt is not None:
            ids = np.array(tok.encode(prompt), dtype=np.int64)
            if ids.size == 0:
                raise ShapeError("--prompt is empty")
        elif token_ids is not None:
            ids = parsed_ids
        elif n_tokens is not None:
            ids = builtin_ids(tok, n_tokens, model.config)
        else:
            ids = model.default_inputs()[0]
        model.check_ids(ids)
        if n_generate and ids.size + n_generate - 1 > model.config.n_positions:
            raise ShapeError(f"{ids.size} prompt tokens + {n_generate} generated exceed the context "
                             f"length {model.config.n_positions}")
        inputs = (ids,)
    elif is_bert:
        if inputs_path is not None:
            raise FpsemError("--inputs is not for bert; it takes --prompt")
        inputs = model.encode(prompts) if prompts else model.default_inputs()
        model.check_inputs(*inputs)
    elif inputs_path is not None:
        if not hasattr(model, "load_inputs"):
            raise FpsemError(f"--inputs: model {model.name} takes no inputs from a file")
        inputs = tuple(model.load_inputs(inputs_path))
    else:
        inputs = tuple(model.default_inputs())
    if inputs_path is not None and is_lm:
        raise FpsemError("--inputs is for non-gpt2 models; gpt2 takes --prompt / --token-ids")
    if compare is not None and R is None:
        raise FpsemError("--compare needs a reference (not --reference none)")

    # with --json - only the JSON goes to stdout; everything else to stderr
    out = _console(stderr=json_out == "-")
    # versioned and traceable: which fpsem, which inputs (hashes), which host FP state
    report = {"schema": "fpsem.run/1", "fpsem_version": fpsem.__version__,
              "inputs": _input_hashes(weights, inputs), "host_fpenv": _fpenv_desc(),
              "model": model.name, "config": _jsonable(_asdict(model.config)), "n_params": model.n_params,
              "weights": model.describe_weights(), "random_weights": model.random_weights,
              "domains": [D.label for D in domains], "reference": R.label if R else None}
    out.print(f"[bold]{model.name}[/] ({getattr(model.config, 'preset', '')}, {model.n_params:,} parameters)")
    if model.random_weights:
        out.print(f"[yellow]{escape(model.describe_weights())}[/]")
    else:
        out.print(escape(model.describe_weights()))
    if is_lm:
        report["tokens"] = [int(i) for i in ids]
        shown = tok.decode(ids)
        out.print(f"{ids.size} input tokens ({'BPE' if tok.has_vocab else 'byte tokens'}): "
                  f"{escape(json.dumps(shown, ensure_ascii=False)[:200])}")
    if is_bert:
        shown = list(prompts) if prompts else (
            list(BERT_PROMPTS) if model.tokenizer is not None else
            [f"<built-in token ids {i}>" for i in range(len(inputs[1]))])
        report["prompts"] = shown
        report["tokens"] = [[int(t) for t in row[:n]] for row, n in zip(inputs[0], inputs[1])]
        for i, (text, n) in enumerate(zip(shown, inputs[1])):
            role = "query" if i == 0 else f"s{i}"
            out.print(f"  {role}: {escape(json.dumps(text, ensure_ascii=False)[:160])} ({int(n)} tokens)")

    # -- forward under every domain (and the reference when no bridge runs it) --------
    steps = max(1, getattr(model, "n_steps", 1))
    env_fn = _bridge_envelope()
    float_ds = [D for D in domains if D.is_float and D.format is not None and D != R]
    use_env = R is not None and env_fn is not None and bool(float_ds)
    runs = list(domains)
    ref_direct = R is not None and not use_env and getattr(R, "is_enclosure", False) and R not in domains
    if ref_direct:
        runs.append(R)
    want_cache = is_lm and n_generate > 0
    # one run: each domain's forward executes once; the envelope runs the float
    # domains and the reference and hands back their outputs, the rest run here
    in_env = [D for D in runs if use_env and (D in float_ds or D == R)]
    direct = [D for D in runs if D not in in_env]
    results = {}
    env = None
    with _Bar(steps * (len(direct) + (len(float_ds) + 1 if use_env else 0)), enabled=not no_progress) as bar:
        for D in direct:
            results[D.label] = _run_one(model, D, inputs, bar, want_cache=want_cache)
        if use_env:
            bar.describe(f"envelope vs {R.label}")
            env = env_fn(model, inputs, domain=float_ds, reference=R, progress=bar.advance,
                         keep_outputs=True, forward_kw={"return_cache": True} if want_cache else None)
            for D in in_env:
                key = env.reference if D == R else D.label
                res = env.outputs[key]
                o, cch = res if want_cache else (res, None)
                results[D.label] = (o, cch, env.timings[key])
    outs = [results[D.label][0] for D in runs]
    caches = [results[D.label][1] for D in runs]
    times = [results[D.label][2] for D in runs]
    ref_out = outs[-1] if ref_direct else (outs[domains.index(R)] if R in domains else None)
    outs_d = outs[:len(domains)]

    ax = model.decision_axis
    report["runs"] = []
    last = (lambda D, o: D.getitem(o, -1)) if is_lm else (lambda D, o: o)
    for D, o, dt in zip(runs, outs, times):
        lo, hi = bounds(D, last(D, o))
        mid = point(D, last(D, o))
        entry = {"domain": D.label, "wall_s": dt, "shape": list(D.shape(o))}
        if is_bert:
            entry["output"] = [float(v) for v in mid.reshape(-1)]
            if D.is_enclosure:
                entry["lo"], entry["hi"] = [float(v) for v in lo.reshape(-1)], [float(v) for v in hi.reshape(-1)]
            entry["argmax"] = int(np.argmax(mid))
        elif is_lm:
            order = np.argsort(-mid, kind="stable")[:n_top]
            entry["top"] = [{"id": int(i), "token": tok.token_str(i), "logit": float(mid[i]),
                             **({"lo": float(lo[i]), "hi": float(hi[i])} if D.is_enclosure else {})}
                            for i in order]
        else:
            entry["argmax"] = _jsonable(np.argmax(mid, axis=ax))
        report["runs"].append(entry)

    from rich.table import Table
    if is_lm:
        t = Table(title="top next tokens (last position)")
        t.add_column("domain")
        t.add_column("time")
        for k in range(n_top):
            t.add_column(f"#{k + 1}")
        for e, D in zip(report["runs"], runs):
            cells = []
            for r in e["top"]:
                val = f"[{r['lo']:.5g}, {r['hi']:.5g}]" if "lo" in r else f"{r['logit']:.6g}"
                cells.append(f"{_tok_repr(tok, r['id'])} ({r['id']})\n{val}")
            t.add_row(D.label + (" (reference)" if R is not None and D == R else ""), f"{e['wall_s']:.2f}s", *cells)
        out.print(t)
    elif is_bert and len(inputs[1]) > 1:
        _bert_table(out, report["runs"], runs, R)
    else:
        t = Table(title=f"{model.name} output")
        for col in ("domain", "time", "output shape", "argmax (axis %d)" % ax):
            t.add_column(col)
        for e in report["runs"]:
            t.add_row(e["domain"], f"{e['wall_s']:.2f}s", str(tuple(e["shape"])), str(e["argmax"])[:60])
        out.print(t)

    # -- agreement between the domains ------------------------------------------------------
    if len(domains) > 1:
        base = bounds(domains[0], outs_d[0])
        report["agreement"] = []
        for D, o in zip(domains[1:], outs_d[1:]):
            b = bounds(D, o)
            if D.is_enclosure or domains[0].is_enclosure:
                continue
            diff = np.abs(b[0] - base[0])
            ndiff = int(np.count_nonzero(b[0] != base[0]))
            same_top = bool(np.argmax(point(D, last(D, o)), axis=-1 if is_lm else ax).tolist()
                            == np.argmax(point(domains[0], last(domains[0], outs_d[0])), axis=-1 if is_lm else ax).tolist())
            report["agreement"].append({"a": domains[0].label, "b": D.label, "values_differing": ndiff,
                                        "of": int(diff.size), "max_abs_diff": float(diff.max()),
                                        "same_decision": same_top})
            out.print(f"{domains[0].label} vs {D.label}: {ndiff:,} of {diff.size:,} output values differ "
                      f"(max |diff| {diff.max():.3g}); "
                      + ("same top-1" if same_top else "[red]DIFFERENT top-1[/]"))

    # -- envelope from the bridge ---------------------------------------------------------------
    if R is not None and env_fn is None:
        out.print("[dim]note: envelope summary unavailable: fpsem.bridges provides no envelope() in this build[/]")
    elif R is not None and not float_ds:
        out.print("[dim]note: no float domain to compare with the reference[/]")
    dec = None
    if env is not None:
        report["envelope"] = []
        for D in float_ds:
            if is_onnx:  # ONNX node names have no block structure: one row per node
                out.print(env.table(D.label))
                report["envelope"].append({"domain": D.label,
                                           "nodes": [s.to_dict() for s in env.stats(D.label)]})
                continue
            rows = _block_rows(env.stats(D.label))
            _block_table(out, f"envelope per block: {D.label} vs {env.reference}"
                         + ("" if env.reference_kind in ("enclosure", "exact") else " (reference not rigorous)"), rows)
            report["envelope"].append({"domain": D.label, "blocks": rows})
        if env.reference_bits is not None:
            report["reference_bits"] = env.reference_bits
        report["envelope_notes"] = list(env.notes)
        for line in env.summary().splitlines()[1:]:
            out.print(escape(line))
        for note in env.notes:
            if note.startswith("reference precision"):
                out.print(escape(note))
        if env._decision_data is not None:
            dec = env.decision()
            report["decision"] = dec.to_dict()

    # -- another runtime's values, observed, against the same reference ----------------------------
    if compare is not None:
        from fpsem.bridges.observed import load_observed, observe, onnxruntime_nodes
        if compare == "onnxruntime":
            vals, note, plain = onnxruntime_nodes(model, inputs)
            label = "onnxruntime"
            # the plain session's outputs too: exposing every node can change ORT's fusions
            runs = {label: vals, "onnxruntime-plain": plain}
        else:
            note, label = f"values from {compare}", os.path.basename(compare)
            runs = {label: load_observed(compare)}
        env_o = observe(model, runs, inputs, reference=R, label=label)
        out.print(env_o.table(label))
        out.print(note)
        for line in env_o.summary().splitlines()[1:]:
            out.print(line)
        report["compare"] = {"label": label, "note": note, "reference": R.label,
                             "nodes": [s.to_dict() for s in env_o.stats(label)], "notes": env_o.notes}
        if len(runs) > 1:
            for s in env_o.stats("onnxruntime-plain"):
                out.print(f"onnxruntime, plain session: {s.name}: max |error| {s.max_abs:.3g}, "
                          f"rigorous bound {s.bound_abs:.3g}")
            report["compare"]["plain"] = [s.to_dict() for s in env_o.stats("onnxruntime-plain")]
    if is_onnx:
        report["onnx_semantics"] = model.semantics
    if is_bert and len(inputs[1]) > 1:
        report["most_similar"] = _bert_decision(out, dec, env, domains, outs_d, ref_out, R)

    # -- is the top-1 certain? -------------------------------------------------------------------
    if is_lm:
        picks = [int(np.argmax(point(D, D.getitem(o, -1)))) for D, o in zip(domains, outs_d)]
        rv = None
        if dec is not None:
            rv = dec.reference
            i, ok = rv.top1, rv.certain
        elif ref_out is not None and R.is_enclosure:
            rlo, rhi = bounds(R, D_last(R, ref_out))
            i, ok = top1_certain(rlo, rhi)
            i, ok = int(i[0]), bool(ok[0])
        else:
            i, ok = None, None
        report["top1"] = {"reference": R.label if R else None, "certain": ok,
                          "token": i if ok else None, "picks": dict(zip([D.label for D in domains], picks))}
        if ok:
            agree = all(p == i for p in picks)
            out.print(f"top-1 is [green]CERTAIN[/]: the real model's next token is {_tok_repr(tok, i)} ({i}) "
                      f"(its {R.label} lower bound exceeds every other token's upper bound); "
                      + ("every domain picks it" if agree else "[red]some domain picks another token[/]"))
        elif ok is False:
            out.print(f"top-1 is [red]NOT certain[/]: the {R.label} enclosures of the leading logits overlap; "
                      f"the real model's next token is not decided at this precision")
        elif R is not None:
            out.print(f"top-1 certainty: undecidable with the point reference {R.label} "
                      f"(use an enclosure such as interval)")
        else:
            out.print("top-1 certainty: no reference (--reference none)")
        if dec is not None:
            for lab, v in dec.domains.items():
                if v.certain is not None:
                    out.print(f"  {lab}: top-1 {_tok_repr(tok, v.top1)} ({v.top1}) "
                              + ("is certain within its rigorous error bound" if v.certain
                                 else "is not certain within its rigorous error bound"))

    # -- generation -------------------------------------------------------------------------------
    if is_lm and n_generate > 0:
        gen, disagreements = _generate(model, domains, outs_d, caches[:len(domains)], n_generate)
        report["generate"] = {"ids": gen, "text": tok.decode(gen), "disagreements": disagreements,
                              "driver": domains[0].label}
        out.print(escape(f"generated ({n_generate} greedy tokens, driven by {domains[0].label}): "
                         f"{json.dumps(tok.decode(gen), ensure_ascii=False)}"))
        if len(domains) > 1:
            if disagreements:
                for d in disagreements:
                    picks = ", ".join(f"{k}: {_tok_repr(tok, v)} ({v})" for k, v in d["picks"].items())
                    out.print(f"  [red]step {d['step']}[/]: domains pick different tokens: {picks}")
            else:
                out.print("  every domain picks the same token at every step")

    if save_logits is not None:
        arr = as_saved(domains[0], outs_d[0])
        try:
            write_npy(save_logits, arr)  # exactly this path (np.save would append .npy)
        except OSError as e:
            raise FpsemError(f"--save-logits: cannot write {save_logits}: {e.strerror}") from None
        out.print(escape(f"saved {domains[0].label} {'logits' if is_lm else 'outputs'} {arr.shape} float64 "
                         f"to {save_logits}"))
    if json_out is not None:
        text = json.dumps(_jsonable(report), indent=1, ensure_ascii=False)
        if json_out == "-":
            click.echo(text)
        else:
            try:
                write_text(json_out, text + "\n")
            except OSError as e:
                raise FpsemError(f"--json: cannot write {json_out}: {e.strerror}") from None


def _bert_table(out, entries, runs, R):
    """Cosine similarity of the query with every other prompt, per domain."""
    from rich.table import Table
    t = Table(title="cosine similarity with the query (first prompt)")
    t.add_column("domain")
    t.add_column("time")
    for j in range(len(entries[0]["output"])):
        t.add_column(f"s{j + 1}")
    t.add_column("most similar")
    for e, D in zip(entries, runs):
        if "lo" in e:
            cells = [f"[{a:.9f}, {b:.9f}]" for a, b in zip(e["lo"], e["hi"])]
        else:
            cells = [f"{v:.9f}" for v in e["output"]]
        t.add_row(D.label + (" (reference)" if R is not None and D == R else ""), f"{e['wall_s']:.2f}s",
                  *cells, f"s{e['argmax'] + 1}")
    out.print(t)


def _bert_decision(out, dec, env, domains, outs, ref_out, R):
    """Which prompt is most similar to the query in the real model (certain when the
    reference enclosure separates it), and per float domain its pick and its rigorous
    error bound on the similarities: a domain can only pick another prompt when that
    bound reaches half the real gap."""
    from .values import bounds, point, top1_certain
    res = {"reference": R.label if R else None, "certain": None, "prompt": None, "gap_lower_bound": None,
           "domains": {}}
    if dec is not None:
        rv = dec.reference
        res.update(certain=rv.certain, prompt=rv.top1 + 1 if rv.certain else None,
                   gap_lower_bound=rv.margin if rv.certain else None)
    elif ref_out is not None and R is not None and R.is_enclosure:
        lo, hi = bounds(R, ref_out)
        i, ok = top1_certain(lo, hi)
        res.update(certain=bool(ok[0]), prompt=int(i[0]) + 1 if ok[0] else None)
    if res["certain"]:
        gap = res["gap_lower_bound"]
        out.print(f"most similar to the query: s{res['prompt']} is [green]CERTAIN[/] in the real model"
                  + (f" (real gap to the runner-up >= {gap:.3g}, rigorous)" if gap is not None else ""))
    elif res["certain"] is False:
        out.print(f"most similar to the query: [red]NOT certain[/]: the {R.label} enclosures of the "
                  f"leading similarities overlap")
    bound = {}
    if env is not None:
        for lab in env.domains:
            s = [st for st in env.stats(lab) if st.name == "similarity"]
            if s and s[0].bound_abs is not None:
                bound[lab] = float(s[0].bound_abs)
    for D, o in zip(domains, outs):
        if D.is_enclosure:
            continue
        pick = int(np.argmax(point(D, o))) + 1
        d = {"pick": pick, "error_bound": bound.get(D.label)}
        line = f"  {D.label}: picks s{pick}"
        if d["error_bound"] is not None:
            line += f"; |similarity error| <= {d['error_bound']:.3g} (rigorous)"
        if res["certain"]:
            d["flips"] = pick != res["prompt"]
            line += "; [red]a different prompt than the real model[/]" if d["flips"] else "; same as the real model"
            gap = res["gap_lower_bound"]
            if gap is not None and d["error_bound"] is not None:
                d["cannot_flip"] = 2 * d["error_bound"] < gap
                line += (f" (its bound is below half the real gap: rounding cannot change the pick)"
                         if d["cannot_flip"] else " (its bound reaches half the real gap)")
        res["domains"][D.label] = d
        out.print(line)
    return res


from fpsem.io import sha256_file as _sha256_file  # noqa: E402


def _input_hashes(weights, inputs):
    import hashlib
    out = {"inputs_sha256": hashlib.sha256(b"".join(np.ascontiguousarray(a).tobytes()
                                                    for a in inputs)).hexdigest()}
    if weights:
        from .weights import checkpoint_files
        files = checkpoint_files(weights)
        st = [f for f in files if not f.endswith("config.json")]
        # one file: its hash (as before); shards: the hash of their hashes in index order
        out["weights_sha256"] = (_sha256_file(st[0]) if len(st) == 1 else
                                 hashlib.sha256("".join(_sha256_file(f) for f in st).encode()).hexdigest())
        cj = [f for f in files if f.endswith("config.json")]
        if cj:
            out["config_sha256"] = _sha256_file(cj[0])
    return out


def _fpenv_desc():
    from fpsem import fpenv
    return fpenv.describe() or "default"


def D_last(D, o):
    return D.getitem(o, -1)


def _asdict(cfg):
    import dataclasses
    return dataclasses.asdict(cfg) if dataclasses.is_dataclass(cfg) else dict(vars(cfg))


def _generate(model, domains, outs, caches, k):
    """Lockstep greedy decoding: at each step every domain scores the same prefix
    (the first domain's greedy choices, fed through each domain's own KV cache);
    steps where a domain's argmax differs from the first domain's are reported."""
    from .values import point
    gen, dis = [], []
    logits = list(outs)
    with model.hold(*domains):
        for t in range(k):
            picks = {D.label: int(np.argmax(point(D, D.getitem(lg, -1)))) for D, lg in zip(domains, logits)}
            choice = picks[domains[0].label]
            gen.append(choice)
            if len(set(picks.values())) > 1:
                dis.append({"step": t, "picks": picks})
            if t + 1 < k:
                nxt = np.array([choice], dtype=np.int64)
                for j, D in enumerate(domains):
                    logits[j], caches[j] = model.forward(D, nxt, cache=caches[j], return_cache=True)
    return gen, dis


@click.command("models")
@json_option("as_json", "the list")
def models_cmd(as_json):
    """List the model zoo with parameter counts of the default configs."""
    from rich.table import Table
    check_json_out(as_json)

    from . import ZOO, get_model
    from .gpt2 import CONFIGS, param_shapes
    rows = []
    for name, cls in ZOO.items():
        m = get_model(name)
        row = {"name": name, "params": m.n_params, "rational": m.is_rational,
               "config": _jsonable(_asdict(m.config)), "summary": cls.summary}
        if name == "gpt2":
            row["presets"] = {k: int(sum(int(np.prod(s)) for s in param_shapes(c).values()))
                              for k, c in CONFIGS.items()}
        rows.append(row)
    if as_json:
        from fpsem.io import emit_json, json_header
        emit_json(as_json, {**json_header("models"),
                            "models": rows + [dict(r, bestiary=True) for r in _bestiary_rows()]})
        return
    t = Table(title="fpsem models (default configs, seeded random weights)")
    for col in ("model", "parameters", "exact-domain ok", "what it is"):
        t.add_column(col)
    for r in rows:
        extra = ""
        if "presets" in r:
            extra = "\npresets: " + ", ".join(f"{k} {v / 1e6:.1f}M" if v >= 1e6 else f"{k} {v:,}"
                                              for k, v in r["presets"].items())
        t.add_row(r["name"], f"{r['params']:,}", "yes" if r["rational"] else "no", r["summary"] + extra)
    _console().print(t)
    _console().print(_bestiary_table())


def _bestiary_rows():
    """The bestiary fixtures (tiny derivations of the catalogue, models/bestiary/execute.py)."""
    from . import BESTIARY, get_model
    rows = []
    for name, cls in BESTIARY.items():
        m = get_model(name)
        rows.append({"name": name, "architecture": cls.entry_name, "params": m.n_params,
                     "trainable": m.n_trainable, "full_params": m.entry.params(),
                     "input": [list(t.input_shape) for t in m.spec.towers]})
    return rows


def _bestiary_table():
    from rich.table import Table
    t = Table(title="bestiary fixtures (tiny derivations of `fpsem bestiary` entries, seeded random "
                    "weights; `fpsem run NAME`)")
    for col in ("model", "architecture", "tiny trainable", "with buffers", "full size", "tiny input"):
        t.add_column(col, no_wrap=col == "model")
    for r in _bestiary_rows():
        t.add_row(r["name"], r["architecture"], f"{r['trainable']:,}", f"{r['params']:,}",
                  f"{r['full_params']:,}", " + ".join("x".join(map(str, s)) for s in r["input"]))
    return t
