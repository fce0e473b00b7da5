"""What the app knows of a model from its name: how big it is and which languages it writes.

Data only: the chat view says it on the welcome screen (and picks starters the model can answer),
and the loop guard is on by default for small models. What is not known stays None; nothing is
guessed beyond a size written in the model's name (`qwen2.5-0.5b`, `deepseek-r1-7b`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from foundry_local_chat.config import BUNDLED_MODEL_ALIAS, BUNDLED_MODEL_ID

SMALL_MODEL_PARAMETERS = 2_000_000_000  # up to this many, a model is small: its answers loop
# A Foundry catalog model that writes Korean, named when the active one does not.
KOREAN_MODEL_EXAMPLE = "phi-4-mini"

# The languages the model cards list (Phi-4-mini-instruct: 23; Qwen2.5: "over 29, including"
# these, so not exhaustive).
_PHI4_MINI_LANGUAGES = frozenset({
    "ar", "zh", "cs", "da", "nl", "en", "fi", "fr", "de", "he", "hu", "it", "ja", "ko", "no",
    "pl", "pt", "ru", "es", "sv", "th", "tr", "uk",
})  # fmt: skip
_QWEN25_LANGUAGES = frozenset({"zh", "en", "fr", "es", "pt", "de", "it", "ru", "ja", "ko", "vi",
                               "th", "ar"})  # fmt: skip
_SIZE_IN_NAME = re.compile(r"(?:^|[-_:])(\d+(?:\.\d+)?)([bm])(?=$|[-_:])", re.IGNORECASE)


@dataclass(frozen=True)
class ModelFacts:
    model: str
    parameters: int | None = None  # None: not known
    languages: frozenset[str] = frozenset()  # languages it is known to write (ISO 639-1)
    only_these_languages: bool = False  # True: it writes no other language
    bundled: bool = False  # the offline model the app builds

    @property
    def small(self) -> bool:
        return self.parameters is not None and self.parameters <= SMALL_MODEL_PARAMETERS

    def writes(self, language: str) -> bool | None:
        """Whether it writes this language; None when nobody knows."""
        if language in self.languages:
            return True
        return False if self.only_these_languages else None


def facts_for(model: str) -> ModelFacts:
    """What is known of a model from its id or alias (`phi-4-mini-instruct-generic-cpu:1`)."""
    name = model.lower()
    if name in {BUNDLED_MODEL_ALIAS, BUNDLED_MODEL_ID}:
        return ModelFacts(model, 135_000_000, frozenset({"en"}), True, bundled=True)
    parameters = _size_in_name(name)
    if name == "phi-4-mini" or name.startswith("phi-4-mini-instruct"):
        return ModelFacts(model, 3_800_000_000, _PHI4_MINI_LANGUAGES, True)
    if name.startswith("qwen2.5") and not {"coder", "math"} & set(re.split(r"[-_:]", name)):
        return ModelFacts(model, parameters, _QWEN25_LANGUAGES)
    return ModelFacts(model, parameters)


def _size_in_name(name: str) -> int | None:
    match = _SIZE_IN_NAME.search(name)
    if match is None:
        return None
    unit = 1_000_000_000 if match[2].lower() == "b" else 1_000_000
    return round(float(match[1]) * unit)


def loop_guard_on(setting: bool | None, model: str) -> bool:
    """LOOP_GUARD: on (True), off (False), or for small models only (None, the default)."""
    return facts_for(model).small if setting is None else setting
