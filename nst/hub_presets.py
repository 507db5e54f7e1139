"""The former home of the Hub presets, kept so ``from nst.hub_presets import load_from_hub`` still works;
the code is ``nst.presets.hub``."""

from .presets.hub import CARD_FILE, CARD_TAGS, load_from_hub, model_card, push_to_hub

push = push_to_hub  # the former name of ``push_to_hub``

__all__ = ["CARD_FILE", "CARD_TAGS", "load_from_hub", "model_card", "push", "push_to_hub"]
