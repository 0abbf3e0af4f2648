"""The bestiary: parameter counts against the cited figures, MACs, bounds, CLI output."""
import json
from fractions import Fraction

import pytest
from click.testing import CliRunner

from fpsem.errors import FpsemError
from fpsem.formats import bfloat16, binary16, binary32
from fpsem.models.bestiary import CATALOG, KINDS, detail, get, layer_bound, table
from fpsem.models.bestiary import layers as L
from fpsem.models.bestiary.cli import bestiary_cmd

REQUIRED = ["LeNet-5", "AlexNet", "VGG-11", "VGG-13", "VGG-16", "VGG-19", "ResNet-18", "ResNet-34",
            "ResNet-50", "ResNet-101", "ResNet-152", "WRN-28-10", "SqueezeNet 1.0", "SqueezeNet 1.1",
            "GoogLeNet", "Xception", "DenseNet-121", "DenseNet-169", "DenseNet-201", "MobileNet V2",
            "EfficientNet-B0", "ShuffleNet v2", "ConvNeXt-T", "ViT-Tiny", "ViT-B/16", "Swin-T",
            "MobileViT-S", "UNet", "DeepLab v3+", "YOLOv1", "DETR-R50", "SAM ViT-B encoder", "DCGAN",
            "CycleGAN", "AlphaGo Zero", "BERT-base", "GPT-2 small", "Mamba-130M",
            "Whisper-small encoder", "NeRF", "CLIP ViT-B/32"]

REQUIRED_KINDS = ["dense", "conv2d", "conv_bn", "max_pool", "global_avg_pool", "residual_block",
                  "bottleneck_block", "inverted_residual", "mb_conv", "fire_module",
                  "inception_module", "separable_conv", "dense_block", "transition_layer",
                  "patch_embed", "transformer_encoder", "transformer_decoder", "swin_stage",
                  "patch_merging", "unet_down", "unet_up", "aspp_module", "fpn_module",
                  "mamba_block", "wavenet_block", "positional_encoding", "nerf_mlp"]


def test_required_entries_and_kinds_present():
    assert [n for n in REQUIRED if n not in CATALOG] == []
    assert [k for k in REQUIRED_KINDS if k not in KINDS] == []


@pytest.mark.parametrize("name", [n for n, e in CATALOG.items() if e.paper_exact
                                  and e.compare_figure()[0] is not None])
def test_params_match_cited_figure(name):
    e = CATALOG[name]
    fig, src = e.compare_figure()
    assert src
    assert abs(e.params() - fig) <= e.tolerance * fig, (name, e.params(), fig, src)
    if e.tolerance > 0.02:
        assert e.note, f"{name}: a tolerance above 2% needs its reason"


def test_exact_counts_known_from_the_papers():
    # figures the papers print to the unit
    assert get("LeNet-5").params() == 60_000
    assert get("Xception").params() == 22_855_952
    assert get("SqueezeNet 1.0").params() == 1_248_424
    # the paper's rounded figures, 2% (the headline examples)
    for name, fig in (("VGG-16", 138e6), ("AlexNet", 60e6), ("BERT-base", 110e6),
                      ("ViT-B/16", 86e6), ("EfficientNet-B0", 5.3e6), ("WRN-28-10", 36.5e6),
                      ("DETR-R50", 41e6), ("Swin-T", 28e6)):
        assert abs(get(name).params() - fig) <= 0.02 * fig, name


def test_gpt2_stores_both_figures():
    e = get("GPT-2 small")
    assert e.paper_params == 117_000_000
    assert e.reference_params == e.params() == 124_439_808
    assert "117M" in e.note


@pytest.mark.parametrize("name", list(CATALOG))
def test_every_entry_has_citation_positive_macs_and_reason(name):
    e = CATALOG[name]
    assert len(e.citation) > 20
    assert e.paper_params_text
    assert e.macs() > 0
    assert e.params() > 0
    if not e.paper_exact:
        assert e.note
    if e.reference_params is not None:
        assert e.reference_source


def test_macs_against_paper_figures():
    # multiply-adds the papers print (loose: conventions differ in what is counted)
    for name, fig in (("ResNet-50", 3.8e9), ("ResNet-18", 1.8e9), ("ResNet-152", 11.3e9),
                      ("MobileNet V2", 300e6), ("ShuffleNet v2", 146e6), ("Swin-T", 4.5e9),
                      ("ConvNeXt-T", 4.5e9), ("EfficientNet-B0", 0.39e9)):
        assert abs(get(name).macs() - fig) <= 0.05 * fig, (name, get(name).macs())


@pytest.mark.parametrize("fmt", [binary32, bfloat16, binary16])
@pytest.mark.parametrize("order", ["sequential", "pairwise"])
def test_bounds_monotone_in_dot_length(fmt, order):
    prev = Fraction(0)
    for n in (1, 2, 3, 7, 16, 100, 255, 256, 1000, 4096, 10 ** 5, 10 ** 7):
        b = layer_bound(n, 0, order, fmt)
        if b is None:  # k u >= 1: stays unavailable for every longer n
            prev = None
            continue
        assert prev is not None and b >= prev, (n, b, prev)
        prev = b


def test_bound_none_when_ku_reaches_one():
    assert layer_bound(300, 0, "sequential", bfloat16) is None
    assert layer_bound(300, 0, "pairwise", bfloat16) is not None
    assert layer_bound(300, 0, "sequential", binary32) == Fraction(300, 2 ** 24 - 300)  # n-1 additions + 1 product rounding


def test_detail_layers_sum_to_totals():
    for name in ("ResNet-50", "CLIP ViT-B/32", "DETR-R50", "GPT-2 small"):
        d = detail(name)
        assert sum(r["params"] for r in d["layers"]) == d["params"]
        assert sum(r["macs"] for r in d["layers"]) == d["macs"]
        assert max(r["dot_len"] for r in d["layers"]) >= d["worst_layer"]["dot_len"] > 0


def test_layer_records_compute():
    assert L.Conv2d(3, 64, 7, 2, 3, bias=False).params() == 9408
    t = L.Conv2d(3, 64, 7, 2, 3, bias=False).trace((3, 224, 224))
    assert t.out == (64, 112, 112) and t.dot == 147 and t.macs == 64 * 112 * 112 * 147
    assert L.Dense(768, 3072).params() == 768 * 3072 + 3072
    assert L.FPNModule((256, 512, 1024, 2048)).trace((2048, 7, 7)).out == (256, 56, 56)
    assert L.WaveNetBlock(64, 32, 256, 4).trace((64, 100)).out == (64, 100)
    assert L.UNetUp(1024, 512).trace((1024, 28, 28)).out == (512, 52, 52)
    with pytest.raises(FpsemError):
        L.Conv2d(3, 8, 3).trace((4, 8, 8))


def test_cli_table_json_parses():
    r = CliRunner().invoke(bestiary_cmd, ["--json"])
    assert r.exit_code == 0, r.output
    rows = json.loads(r.output)["architectures"]
    assert {row["name"] for row in rows} == set(CATALOG)
    assert rows == json.loads(json.dumps(table()))


def test_cli_detail_json_to_file(tmp_path):
    out = tmp_path / "r50.json"
    r = CliRunner().invoke(bestiary_cmd, ["resnet50", "--json", str(out)])
    assert r.exit_code == 0, r.output
    d = json.loads(out.read_text())
    assert d["name"] == "ResNet-50" and d["params"] == 25_557_032
    b = d["layers"][2]["bounds"]["binary32"]["sequential"]
    assert Fraction(b["exact"]) > 0


def test_cli_text_output():
    r = CliRunner().invoke(bestiary_cmd, [])
    assert r.exit_code == 0 and "ResNet-50" in r.output
    r = CliRunner().invoke(bestiary_cmd, ["GPT-2 small"])
    assert r.exit_code == 0 and "124,439,808" in r.output


def test_unknown_name_errors():
    with pytest.raises(FpsemError, match="unknown architecture 'nosuchnet'"):
        get("nosuchnet")
    r = CliRunner().invoke(bestiary_cmd, ["nosuchnet"])
    assert isinstance(r.exception, FpsemError)


def test_unknown_name_exit_code_two():
    from fpsem.cli import main
    with pytest.raises(SystemExit) as ex:
        main(["bestiary", "nosuchnet"])
    assert ex.value.code == 2


def test_lookup_forgiving_but_not_ambiguous():
    assert get("resnet50").name == "ResNet-50"
    assert get("clip").name == "CLIP ViT-B/32"
    assert get("gpt2").name == "GPT-2 small"
    with pytest.raises(FpsemError):
        get("resnet")  # five candidates
