"""The sources under an answer name what the model was given in words that read naturally in
the chat's language: a document sent whole by its name, a passage by its page, section or
number; English labels hold no Korean, Korean ones no English words of the app's own."""

from __future__ import annotations

import re

import pytest

from foundry_local_chat.documents.store import Passage
from foundry_local_chat.ui.chat_view import source_label
from foundry_local_chat.ui.texts import ENGLISH, KOREAN, WORDS

HANGUL = re.compile("[가-힣]")
PAGE = Passage("report.pdf", 4, "…", page=3)
SECTION = Passage("handbook.md", 2, "…", section="Refunds")
PASSAGE = Passage("notes.txt", 6, "…")


@pytest.mark.parametrize(
    ("language", "labels"),
    [
        (ENGLISH, ["handbook.md", "report.pdf, page 3", "“Refunds” in handbook.md",
                   "notes.txt, passage 7"]),
        (KOREAN, ["handbook.md", "report.pdf 3쪽", "handbook.md의 ‘Refunds’ 부분",
                  "notes.txt의 7번째 부분"]),
    ],
)  # fmt: skip
def test_a_source_is_named_as_a_person_would_say_it(language: str, labels: list[str]) -> None:
    said = WORDS[language]
    named = [
        source_label(SECTION, True, said),
        source_label(PAGE, False, said),
        source_label(SECTION, False, said),
        source_label(PASSAGE, False, said),
    ]
    assert named == labels
    if language == ENGLISH:
        assert not any(HANGUL.search(label) for label in named)
        assert not any("(whole)" in label or "#" in label for label in named)


def test_the_side_sheet_says_whether_the_document_went_whole() -> None:
    for said in WORDS.values():
        assert said.source_whole_given != said.source_given
    assert "whole" in WORDS[ENGLISH].source_whole_given
    assert "전체" in WORDS[KOREAN].source_whole_given
    assert WORDS[ENGLISH].source_again.format(label="report.pdf, page 3", number=5) == (
        "report.pdf, page 3, passage 5"
    )
