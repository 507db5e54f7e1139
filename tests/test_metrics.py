"""The distances of ``nst.metrics``: ``Distances`` (targets kept, one pass per image) agrees with the
two functions, for images of several sizes, and the distances order images as they should."""

from __future__ import annotations

import pytest

from nst.image import load_image, resize_longest
from nst.metrics import Distances, content_distance, style_distance

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def images(assets):
    return load_image(assets / "tubingen.jpg"), load_image(assets / "starry_night.jpg")


def test_distances_match_the_functions_at_every_size(tiny_model, images):
    content, style = images
    distances = Distances(tiny_model, content, style)
    for image in (resize_longest(content, 48), resize_longest(style, 64).resize((64, 48)),
                  resize_longest(content, 64), resize_longest(content, 48).rotate(90, expand=True)):
        scores = distances(image)
        assert scores.style == pytest.approx(style_distance(tiny_model, image, style), rel=1e-5)
        assert scores.content == pytest.approx(content_distance(tiny_model, image, content), rel=1e-5, abs=1e-7)
    assert len(distances._targets) == 3  # one set of targets per size: 48x36, 64x48 (twice), 36x48


def test_the_photo_is_faithful_and_the_painting_is_stylised(tiny_model, images):
    content, style = images
    distances = Distances(tiny_model, content, style)
    photo = distances(resize_longest(content, 64))
    painting = distances(resize_longest(style, 64).resize(resize_longest(content, 64).size))
    assert photo.content == pytest.approx(0.0, abs=1e-6)
    assert painting.content > 0.1
    assert painting.style < photo.style
