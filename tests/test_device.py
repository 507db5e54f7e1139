"""Where a run computes: ``precision="auto"`` on CPUs with and without native bfloat16 (the other kind
simulated), and ``NST_PRECISION``, which decides what ``auto`` means for the engine, the CLI and the app."""

from __future__ import annotations

import pytest
import torch

import nst.device
from nst.config import TransferConfig
from nst.device import PRECISION_ENV, auto_precision, bf16_is_native, resolve_precision
from nst.optimize import StyleTransfer

CPU = torch.device("cpu")


@pytest.fixture
def cpu_kind(monkeypatch):
    """``cpu_kind(native, speedup)`` makes this CPU report native bfloat16 (AVX-512 BF16 / AMX) or not (AVX2
    only), and bfloat16 measure ``speedup`` times as fast as float32 on it."""
    monkeypatch.delenv(PRECISION_ENV, raising=False)

    def simulate(native: bool, speedup: float = 1.8) -> None:
        monkeypatch.setattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", lambda: native)
        monkeypatch.setattr(nst.device, "cpu_bf16_speedup", lambda: speedup)

    return simulate


@pytest.mark.parametrize("native, expected", [(True, torch.bfloat16), (False, torch.float32)])
def test_auto_is_bfloat16_exactly_where_the_cpu_runs_it_natively(cpu_kind, native, expected):
    cpu_kind(native)
    assert bf16_is_native(CPU) is native
    assert resolve_precision("auto", CPU) == expected
    # Asked for by name, a precision is what it says on either kind of CPU.
    assert resolve_precision("fp32", CPU) == torch.float32
    assert resolve_precision("bf16", CPU) == torch.bfloat16


@pytest.mark.parametrize("speedup, expected", [(0.62, torch.float32), (1.05, torch.float32), (1.4, torch.bfloat16)])
def test_on_a_cpu_reporting_native_bfloat16_auto_takes_it_only_where_it_measures_faster(cpu_kind, speedup, expected):
    # A virtualised Xeon with AVX-512 BF16 and no AMX reports native bfloat16 yet runs VGG-19 slower in it.
    cpu_kind(True, speedup)
    assert resolve_precision("auto", CPU) == expected
    assert resolve_precision("bf16", CPU) == torch.bfloat16  # by name, still what was asked for


def test_the_speed_of_bfloat16_is_measured_once_per_process(monkeypatch):
    calls = []
    original = nst.device._vgg_blocks_seconds

    def timed(dtype, *args, **kwargs):
        calls.append(dtype)
        return original(dtype, side=16, repeats=1)

    monkeypatch.setattr(nst.device, "_vgg_blocks_seconds", timed)
    nst.device.cpu_bf16_speedup.cache_clear()
    try:
        first = nst.device.cpu_bf16_speedup()
        assert first > 0 and first == first and first != float("inf")
        assert nst.device.cpu_bf16_speedup() == first
        assert calls == [torch.float32, torch.bfloat16]  # each precision timed once, not again on the second call
    finally:
        nst.device.cpu_bf16_speedup.cache_clear()


def test_an_avx2_cpu_is_not_timed(monkeypatch):
    monkeypatch.setattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", lambda: False)
    monkeypatch.setattr(nst.device, "cpu_bf16_speedup", lambda: pytest.fail("timed although not native"))
    assert bf16_is_native(CPU) is False


def test_a_cpu_whose_check_fails_counts_as_not_native(monkeypatch):
    def broken():
        raise RuntimeError("no oneDNN")

    monkeypatch.setattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", broken)
    assert bf16_is_native(CPU) is False


@pytest.mark.parametrize("native", [True, False])
@pytest.mark.parametrize("forced, expected", [("fp32", torch.float32), ("bf16", torch.bfloat16),
                                              (" BF16 ", torch.bfloat16)])
def test_nst_precision_decides_what_auto_means_on_either_cpu(cpu_kind, monkeypatch, native, forced, expected):
    cpu_kind(native)
    monkeypatch.setenv(PRECISION_ENV, forced)
    assert resolve_precision("auto", CPU) == expected
    other = torch.float32 if expected == torch.bfloat16 else torch.bfloat16
    named = "fp32" if other == torch.float32 else "bf16"
    assert resolve_precision(named, CPU) == other  # a precision asked for by name is never overridden


@pytest.mark.parametrize("value", ["", "auto", "AUTO"])
def test_an_empty_or_auto_nst_precision_leaves_it_to_the_hardware(cpu_kind, monkeypatch, value):
    cpu_kind(True)
    monkeypatch.setenv(PRECISION_ENV, value)
    assert auto_precision() == "auto"
    assert resolve_precision("auto", CPU) == torch.bfloat16


def test_a_bad_nst_precision_is_refused_with_what_to_set(monkeypatch):
    monkeypatch.setenv(PRECISION_ENV, "fp16")
    with pytest.raises(ValueError, match="NST_PRECISION must be auto, fp32 or bf16, got 'fp16'"):
        resolve_precision("auto", CPU)


def test_a_run_with_the_default_precision_follows_nst_precision(cpu_kind, monkeypatch, tiny_model, content, style):
    cpu_kind(False)
    assert TransferConfig().precision == "auto"
    config = TransferConfig(size=32, steps=1, scales=1, preview_every=0)
    assert StyleTransfer(tiny_model, content, [style], config, device="cpu").dtype == torch.float32
    monkeypatch.setenv(PRECISION_ENV, "bf16")
    run = StyleTransfer(tiny_model, content, [style], config, device="cpu")
    assert run.dtype == torch.bfloat16
    events = list(run)
    assert len(events) == 1 and torch.isfinite(torch.tensor(events[0].losses["total"]))


def test_the_cuda_check_asks_the_card(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *args, **kwargs: False)
    assert nst.device.bf16_is_native(torch.device("cuda")) is False
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *args, **kwargs: True)
    assert nst.device.bf16_is_native(torch.device("cuda")) is True


def test_the_precision_mark_reaches_the_engines_runs(request):
    """CI reruns ``-m precision`` under both precisions: the mark must land on every test of the modules that
    run the optimiser, however pytest names them (``test_tiled`` or ``tests.test_tiled``)."""
    from conftest import PRECISION_SENSITIVE

    short = {item: item.module.__name__.rsplit(".", 1)[-1] for item in request.session.items}
    meant = {item for item, name in short.items() if name in PRECISION_SENSITIVE}
    marked = {item for item in short if item.get_closest_marker("precision")}
    assert request.node in marked and marked == meant
