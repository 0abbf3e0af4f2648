"""The layering of docs/architecture.md, checked on the source: nothing imports
upward, at module level or inside a function (function-local imports are for
optional heavy third-party dependencies, and for breaking cycles within a layer
or downward)."""
import ast
import pathlib

ROOT = pathlib.Path(__file__).resolve().parents[1]
#: installed package -> source folder (pyproject's package-dir mapping)
PACKAGES = {"fpsem": "fpsem", "fpsem.ops": "ops", "fpsem.models": "models", "fpsem.bridges": "bridges"}

#: bottom to top; a module belongs to the layer of its longest matching prefix
LAYERS = [
    ("ground", ("fpsem.errors", "fpsem.formats", "fpsem.order", "fpsem.bounds", "fpsem.trace",
                "fpsem.io", "fpsem.console", "fpsem.interrupts", "fpsem.exactsum", "fpsem.fpenv",
                "fpsem.jitcache", "fpsem.threads", "fpsem.cuda_kernels")),
    ("emulator", ("fpsem.emu",)),
    ("domain protocol", ("fpsem.domain", "fpsem.value", "fpsem.registry", "fpsem.semantics", "fpsem")),
    ("domains", ("fpsem.domains",)),
    ("ops", ("fpsem.ops", "fpsem.introspect")),
    ("models", ("fpsem.models",)),
    ("bridges", ("fpsem.bridges",)),
    ("cli", ("fpsem.cli", "fpsem.__main__", "fpsem.models.cli", "fpsem.bridges.cli", "fpsem.bridges.sweep_cli")),
]

#: upward imports that are part of the design, with the reason
ALLOWED = {
    ("fpsem", "fpsem.bridges.envelope"): "the package facade's fpsem.envelope() imports the bridge when called",
    ("fpsem", "fpsem.models.onnx_import"): "the package facade's fpsem.load_onnx() imports the importer when called",
}
#: known violations being removed (issue 15: the cuda domain's fused ops move to the
#: op registry); each entry must still occur, so the list only shrinks
KNOWN = {}   # (module, imported module): why; empty since the cuda split (fused kernels register with ops)


def layer(mod):
    best = None
    for i, (_, prefixes) in enumerate(LAYERS):
        for p in prefixes:
            sub = mod.startswith(p + ".") and p != "fpsem"   # the facade is the package itself only
            if (mod == p or sub) and (best is None or len(p) > best[1]):
                best = (i, len(p))
    return None if best is None else best[0]


def modules():
    out = {}
    for pkg, folder in PACKAGES.items():
        base = ROOT / folder
        for f in base.rglob("*.py"):
            parts = list(f.relative_to(base).with_suffix("").parts)
            if pkg == "fpsem" and parts[0] in ("ops", "models", "bridges"):
                continue   # test-time links, not the package
            if "__pycache__" in parts:
                continue
            if parts[-1] == "__init__":
                parts = parts[:-1]
            out[".".join([pkg] + parts)] = f
    return out


def imports(name, path, known):
    """(target module, line) for every fpsem import in the file, local ones included."""
    is_pkg = path.name == "__init__.py"
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            for a in node.names:
                yield a.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".") if is_pkg else name.split(".")[:-1]
                base = base[:len(base) - (node.level - 1)]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            for a in node.names:
                sub = f"{mod}.{a.name}"
                yield (sub if sub in known else mod), node.lineno


def upward_imports(mods):
    found = {}
    for name, path in mods.items():
        for target, line in imports(name, path, mods):
            if not target.startswith("fpsem"):
                continue
            a, b = layer(name), layer(target)
            assert a is not None and b is not None, f"{name} or {target} has no layer in LAYERS"
            if b > a:
                found.setdefault((name, target), line)
    return found


def test_every_module_has_a_layer():
    missing = [m for m in modules() if layer(m) is None]
    assert not missing, f"add these modules to LAYERS (and docs/architecture.md): {missing}"


def test_nothing_imports_upward():
    found = upward_imports(modules())
    bad = {k: v for k, v in found.items() if k not in ALLOWED and k not in KNOWN}
    assert not bad, "upward imports (see docs/architecture.md): " + "; ".join(
        f"{a} ({LAYERS[layer(a)][0]}) imports {b} ({LAYERS[layer(b)][0]}) at line {ln}"
        for (a, b), ln in sorted(bad.items()))
    stale = [k for k in list(ALLOWED) + list(KNOWN) if k not in found]
    assert not stale, f"no longer imported upward, remove from the lists: {stale}"


def test_the_check_sees_a_local_upward_import(tmp_path):
    f = tmp_path / "x.py"
    f.write_text("def f():\n    from fpsem.bridges import envelope\n    return envelope\n")
    assert upward_imports({"fpsem.domains.x": f}) == {("fpsem.domains.x", "fpsem.bridges"): 2}


def test_architecture_doc_names_every_layer():
    doc = (ROOT / "docs" / "architecture.md").read_text()
    for name, _ in LAYERS:
        assert name in doc.lower(), name
