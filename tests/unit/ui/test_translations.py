"""UI translations: Chainlit's linter passes, and the Korean UI is complete and really Korean."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import fields
from string import Formatter
from typing import Any

from foundry_local_chat.ui.texts import ENGLISH, KOREAN, WORDS, Words
from tests.support.browser import translation
from tests.support.processes import REPO

TRANSLATIONS = REPO / ".chainlit" / "translations"
HANGUL = re.compile(r"[\uac00-\ud7a3]")
PLACEHOLDER = re.compile(r"{{\s*\w+\s*}}")
# Strings that stay the same in Korean: a keyboard shortcut.
NOT_TRANSLATED = {"navigation.user.menu.settingsKey"}


def leaves(tree: dict[str, Any], prefix: str = "") -> Iterator[tuple[str, str]]:
    for key, value in tree.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict):
            yield from leaves(value, f"{path}.")
        else:
            yield path, value


def test_every_korean_string_is_translated_and_keeps_its_placeholders() -> None:
    english = dict(leaves(translation("en-US")))
    korean = dict(leaves(translation("ko-KR")))
    assert korean.keys() == english.keys()
    untranslated = [
        key for key, text in korean.items() if key not in NOT_TRANSLATED and not HANGUL.search(text)
    ]
    assert untranslated == []
    for key, text in english.items():
        assert PLACEHOLDER.findall(korean[key]) == PLACEHOLDER.findall(text), key


def test_a_browser_that_says_only_ko_gets_the_same_korean() -> None:
    """Chainlit looks for <language>.json and chainlit_<language>.md by the exact browser language.

    ko.json must exist in any case: Chainlit re-creates a missing one from its own older copy at
    every start. Both are links to the ko-KR files, so there is one Korean text to maintain.
    """
    assert (TRANSLATIONS / "ko.json").resolve() == (TRANSLATIONS / "ko-KR.json").resolve()
    assert (REPO / "chainlit_ko.md").resolve() == (REPO / "chainlit_ko-KR.md").resolve()


def test_the_apps_own_words_exist_in_both_languages_with_the_same_blanks() -> None:
    english, korean = WORDS[ENGLISH], WORDS[KOREAN]
    for name in (field.name for field in fields(Words)):
        said_in_english, said_in_korean = getattr(english, name), getattr(korean, name)
        assert HANGUL.search(said_in_korean), name
        assert not HANGUL.search(said_in_english), name  # English words are English
        assert blanks(said_in_korean) == blanks(said_in_english), name


def blanks(text: str) -> set[str]:
    return {name for _, name, _, _ in Formatter().parse(text) if name}
