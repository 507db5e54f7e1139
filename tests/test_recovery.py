"""Out-of-memory recovery (``nst.recovery``) without a GPU: a tiny VGG-19 that raises the error CUDA raises
whenever it is shown an image larger than it "has memory for", so the retries can be watched; then the
same through the command line."""

from __future__ import annotations

import gc
import weakref

import pytest
import torch
from PIL import Image

from nst.config import TransferConfig
from nst.cli import main
from nst.features import VGG19Features
from nst.image import read_settings
from nst.lbfgs import LBFGS
from nst.optimize import StyleTransfer
from memory_limited import MemoryLimited
from nst.recovery import RetryingTransfer, is_out_of_memory, lighter

pytestmark = pytest.mark.usefixtures("one_thread")


def retrying(model, content, style, floor=16, **settings) -> RetryingTransfer:
    config = TransferConfig(**{"size": 64, "steps": 4, "scales": 1, "min_scale_size": 16, "preview_every": 0, **settings})
    return RetryingTransfer(lambda c: StyleTransfer(model, content, [style], c, device="cpu"), config, floor=floor)


def test_out_of_memory_retries_at_three_quarters_the_size_with_a_notice(tiny_weights, content, style):
    model = MemoryLimited(tiny_weights, most=48)
    run = retrying(model, content, style)
    events = list(run)
    assert run.notices == ["out of memory at 64 px; retrying at 48 px"]
    assert model.refused and set(model.refused) == {64}
    assert [e.step for e in events] == [1, 2, 3, 4] and {e.size for e in events} == {(36, 48)}
    assert run.stop_reason == "finished" and run.config.size == 48
    assert run.result().size == (48, 36)


def test_the_size_keeps_going_down_until_it_fits(tiny_weights, content, style):
    run = retrying(MemoryLimited(tiny_weights, most=30), content, style)
    image = run.run()
    assert run.notices == ["out of memory at 64 px; retrying at 48 px", "out of memory at 48 px; retrying at 36 px",
                           "out of memory at 36 px; retrying at 27 px"]
    assert image.size == (27, 20) and run.config.size == 27 and run.stop_reason == "finished"


def test_at_the_floor_lbfgs_gives_way_to_adam(tiny_weights, content, style, monkeypatch):
    def no_room_for_history(self, closure):
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 50.00 MiB")

    monkeypatch.setattr(LBFGS, "step", no_room_for_history)
    run = retrying(VGG19Features(tiny_weights), content, style, floor=64, lr=1.0)
    run.run()
    assert run.notices == ["out of memory at 64 px; retrying with Adam instead of L-BFGS (no step history to keep)"]
    assert run.config.optimizer == "adam" and run.config.lr is None and run.config.size == 64
    assert run.stop_reason == "finished" and len(run.history) == 4


def test_when_nothing_lighter_fits_the_error_is_raised_and_the_best_image_kept(tiny_weights, content, style):
    # Two scales (32 px, then 64 px): every attempt finishes the coarse scale, then runs out at 64 px.
    run = retrying(MemoryLimited(tiny_weights, most=32), content, style, floor=64, scales=2)
    steps = []
    with pytest.raises(torch.OutOfMemoryError):
        for event in run:
            steps.append(event.step)
    assert steps == [1, 2, 1, 2], "the coarse scale's two steps, then again with Adam"
    assert len(run.notices) == 1 and "Adam" in run.notices[0]
    # The coarse scale's image, handed back at the output's size (as StyleTransfer does after a stop).
    assert run.has_image and run.result().size == (64, 48)


def test_a_failed_attempt_that_got_further_keeps_its_image(tiny_weights, content, style):
    model = MemoryLimited(tiny_weights, most=48)
    run = retrying(model, content, style, scales=2, steps=8)  # 32 px for 4 steps, then 64 px: out of memory
    first = run.attempt
    for event in run:
        if run.notices:  # the retry's first step (at 24 px): stop there
            break
    run.close()
    assert run.stop_reason == "cancelled" and len(run.history) == 1
    assert run.result().size == (64, 48) and run.config.size == 64, "the failed attempt did 4 steps, the retry 1"
    assert first.stop_reason is None  # the failed attempt is let go, and its memory with it
    reference = weakref.ref(first)
    del first
    gc.collect()
    assert reference() is None


def test_other_errors_are_not_retried(tiny_weights, content, style):
    class Broken(VGG19Features):
        def forward(self, *args, **kwargs):
            raise RuntimeError("device lost")

    run = retrying(Broken(tiny_weights), content, style)
    with pytest.raises(RuntimeError, match="device lost"):
        run.run()
    assert run.notices == [] and not run.has_image


def test_what_counts_as_out_of_memory():
    assert is_out_of_memory(torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB"))
    assert is_out_of_memory(MemoryError())
    assert is_out_of_memory(RuntimeError("[enforce fail at alloc_cpu.cpp:117] data. DefaultCPUAllocator: not enough "
                                         "memory: you tried to allocate 17179869184 bytes."))
    assert is_out_of_memory(RuntimeError("DefaultCPUAllocator: can't allocate memory: you tried to allocate 8 GB"))
    assert not is_out_of_memory(RuntimeError("device lost"))
    assert not is_out_of_memory(ValueError("out of memory"))


def test_lighter_settings_step_down_to_the_floor_then_to_adam():
    config, sizes = TransferConfig(size=2048), []
    while (step := lighter(config, floor=256)) is not None:
        config, change = step
        sizes.append(config.size if config.optimizer == "lbfgs" else change)
    assert sizes == [1536, 1152, 864, 648, 486, 364, 273, 256,
                     "with Adam instead of L-BFGS (no step history to keep)"]
    assert lighter(TransferConfig(size=128, optimizer="adam"), floor=256) is None


# -- The command line ----------------------------------------------------------------------------------------


@pytest.fixture
def cli_inputs(tmp_path, content, style):
    content.save(tmp_path / "photo.png")
    style.save(tmp_path / "painting.png")
    return [str(tmp_path / "photo.png"), str(tmp_path / "painting.png"), "--size", "32", "--steps", "3",
            "--device", "cpu", "--quiet"]


def test_the_command_line_says_it_retried_and_saves_the_smaller_result(tmp_path, tiny_weights, cli_inputs,
                                                                       monkeypatch, capsys):
    monkeypatch.setattr("nst.cli.transfer.open_model", lambda args: MemoryLimited(tiny_weights, most=26))  # (the painting is seen at 26 px)
    monkeypatch.setattr("nst.recovery.DEFAULT_FLOOR", 16)
    output = tmp_path / "out.png"
    assert main([*cli_inputs, "-o", str(output)]) == 0
    assert capsys.readouterr().err.strip() == "nst: out of memory at 32 px; retrying at 24 px"
    assert Image.open(output).size == (24, 18)
    settings = read_settings(output)
    assert settings["config"]["size"] == 24 and settings["stop_reason"] == "finished"


def out_of_memory_at_the_third_step(monkeypatch) -> None:
    """Both optimisers run out of memory at their third step, whatever the size."""
    for optimizer in (LBFGS, torch.optim.Adam):
        def step(self, closure=None, _step=optimizer.step):
            self.steps_taken = getattr(self, "steps_taken", 0) + 1
            if self.steps_taken == 3:
                raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 MiB")
            return _step(self, closure)

        monkeypatch.setattr(optimizer, "step", step)


def test_the_command_line_saves_the_best_image_when_no_retry_fits(tmp_path, tiny_weights, cli_inputs, monkeypatch,
                                                                 capsys):
    out_of_memory_at_the_third_step(monkeypatch)
    monkeypatch.setattr("nst.cli.transfer.open_model", lambda args: VGG19Features(tiny_weights))
    output = tmp_path / "out.png"
    assert main([*cli_inputs, "-o", str(output)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err[0] == "nst: out of memory at 32 px; retrying with Adam instead of L-BFGS (no step history to keep)"
    assert err[1].startswith("nst: error: out of memory at the lightest settings tried (OutOfMemoryError: CUDA out")
    assert f"saved the best image so far to {output}" in err[1] and len(err) == 2
    settings = read_settings(output)
    assert settings["stop_reason"] == "out of memory" and settings["config"]["optimizer"] == "adam"
    assert Image.open(output).size == (32, 24)


@pytest.fixture
def batch_argv(tmp_path, content, style) -> list[str]:
    """``nst batch`` over a folder with one photo, with a one-painting preset at 32 px, 3 steps."""
    from nst import presets

    look = presets.create(tmp_path / "look", "look", TransferConfig(size=32, steps=3, scales=1), [style])
    photos = tmp_path / "photos"
    photos.mkdir()
    content.save(photos / "photo.png")
    return ["batch", str(photos), "--preset", str(look.folder), "-o", str(tmp_path / "out"), "--device", "cpu",
            "--quiet"]


def test_a_batch_retries_an_image_lighter_and_does_it_again_next_time(tmp_path, tiny_weights, batch_argv,
                                                                    monkeypatch, capsys):
    monkeypatch.setattr("nst.cli.presets.open_model", lambda args: MemoryLimited(tiny_weights, most=26))
    monkeypatch.setattr("nst.recovery.DEFAULT_FLOOR", 16)
    assert main(batch_argv) == 0
    err = capsys.readouterr().err
    assert "nst: photo.png: out of memory at 32 px; retrying at 24 px" in err and "1 made, 0 already done" in err
    output = tmp_path / "out" / "photo.png"
    assert Image.open(output).size == (24, 18) and read_settings(output)["config"]["size"] == 24

    monkeypatch.setattr("nst.cli.presets.open_model", lambda args: VGG19Features(tiny_weights))  # more memory now
    assert main(batch_argv) == 0
    assert "1 made, 0 already done" in capsys.readouterr().err  # the smaller result was not counted as done
    assert Image.open(output).size == (32, 24)


def test_a_batch_saves_the_best_image_when_no_retry_fits_and_counts_it_failed(tmp_path, tiny_weights, batch_argv,
                                                                            monkeypatch, capsys):
    out_of_memory_at_the_third_step(monkeypatch)
    monkeypatch.setattr("nst.cli.presets.open_model", lambda args: VGG19Features(tiny_weights))
    assert main(batch_argv) == 1
    err = capsys.readouterr().err
    assert "0 made, 0 already done, 1 failed" in err
    assert "photo.png: out of memory at the lightest settings tried; saved the best image so far" in err
    settings = read_settings(tmp_path / "out" / "photo.png")
    assert settings["stop_reason"] == "out of memory" and settings["config"]["optimizer"] == "adam"
