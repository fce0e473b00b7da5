"""A chat's title: a few words the model writes about the chat's first question, cleaned.

What a model writes as a title is not always one: a sentence, a label ("Title: …"), Markdown,
quotes, a loop, nothing, or (from a small model) words about something else. `clean_title` keeps
one short line that shares a telling word with the question, or nothing; the chat's first
message, shortened, stands in for nothing (`fallback_title`).

The model reads only the question (bounded), so a title costs a short read; it is asked with
`stop` at the line's end, which also keeps the request out of the endpoint's warm conversations
(a title is not a conversation to continue: endpoint/session_engine.py leaves requests with
`stop` to Foundry's web service).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Any

from openai import AsyncOpenAI

from foundry_local_chat import request_ids
from foundry_local_chat.text_repair import repair_unicode

MAX_TITLE_CHARS = 60  # what the sidebar shows of a name, about
QUESTION_CHARS = 300  # of the first question, what the model reads
TITLE_MAX_TOKENS = 16
WRITTEN_CHARS = 400  # more than any title: the rest of a runaway answer is not read
TITLE_TIMEOUT_SECONDS = 60.0

HANGUL = re.compile(r"[\uac00-\ud7a3]")
# The instruction, in the chat's language (Korean when the question is written in it). Said as a
# question about the topic: SmolLM2-135M, the bundled model, answers "write a title" with a
# sentence, and this with "The topic of this question: Planning a three-day trip to Kyoto".
PROMPTS = {
    "en": 'What is the topic of this question? "{question}" Reply with the topic only, in at '
    "most five words.",
    "ko": '다음 질문의 주제는 무엇인가요? "{question}" 주제만 다섯 단어 이내의 한국어로 답하세요.',
}

_THINKING = re.compile(r"<think>.*?(?:</think>|$)", re.S | re.I)
_LABEL = re.compile(
    r"^\s*(?:(?:the\s+)?(?:chat\s+|conversation\s+)?(?:title|topic|subject|headline|theme)"
    r"(?:\s+of\s+(?:this|the)\s+(?:question|sentence|chat|conversation|message))?"
    r"(?:\s+(?:would\s+be|will\s+be|is))?|제목|주제)\s*(?:[:：\-–—]|$)\s*",
    re.I,
)
# "The topic of reversing a list in Python": the topic follows.
_TOPIC_OF = re.compile(
    r"^\s*the\s+(?:topic|subject)\s+of\s+"
    r"(?!(?:this|the)\s+(?:question|sentence|chat|conversation|message)\b)",
    re.I,
)
_LIST_MARK = re.compile(r"^\s*(?:[-*+•]|\d{1,2}[.)])\s+")
_HEADING = re.compile(r"^\s*#{1,6}\s*")
_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")
_EMPHASIS = re.compile(r"(\*\*|__|\*|`|~~)")
_QUOTES = "\"'“”‘’«»「」『』`"
_SENTENCE_END = re.compile(r"(?<=[.!?。！？])\s+")
_TRAILING = " .,:;、。…-–—"
_CONTROLS = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_WORD = re.compile(r"\w+")
# Words that tell nothing of a chat's topic: a title must share another word with the question.
_NOT_TELLING_WORDS = (
    "a about an and answer answers any are as at be been brief briefly but by can could describe "
    "did do does explain for from give had has have help how i if in into is it its list me my "
    "no not of on one or our please question questions sentence sentences short so tell than "
    "that the their them then there these they this those three title to topic two us was we "
    "were what when where which who whom why will with word words would write you your"
)
NOT_TELLING = frozenset(_NOT_TELLING_WORDS.split())


@dataclass(frozen=True)
class Title:
    text: str
    by_model: bool  # False: the first message stands in (the model wrote none that is one)


def language_of(question: str) -> str:
    return "ko" if HANGUL.search(question) else "en"


def title_prompt(question: str) -> list[dict[str, str]]:
    """The request's messages: the question, on one line and bounded, in its instruction."""
    quoted = " ".join(question.split())[:QUESTION_CHARS].replace('"', "'")
    return [{"role": "user", "content": PROMPTS[language_of(question)].format(question=quoted)}]


def fallback_title(question: str) -> str:
    """The first message as a name: one line, at most MAX_TITLE_CHARS."""
    return _bounded(_CONTROLS.sub(" ", repair_unicode(question)))


def clean_title(written: str, question: str) -> str | None:
    """The title in what the model wrote, or None when it wrote none: nothing, a loop, words
    that share nothing with the question, or (for a Korean question) no Korean."""
    text = _THINKING.sub("", repair_unicode(written))
    line = next((line for line in text.splitlines() if line.strip()), "")
    line = unicodedata.normalize("NFC", _CONTROLS.sub(" ", line))
    labelled = line
    for _ in range(4):  # "The topic: The topic of this question: …"
        before = line
        line = _LIST_MARK.sub("", _HEADING.sub("", _TOPIC_OF.sub("", _LABEL.sub("", line))))
        line = _EMPHASIS.sub("", _LINK.sub(r"\1", line)).strip().strip(_QUOTES).strip()
        if line == before:
            break
    if line != labelled.strip():  # what followed a label begins the title
        line = line[:1].upper() + line[1:]
    line = _SENTENCE_END.split(line, maxsplit=1)[0]
    line = " ".join(line.split()).rstrip(_TRAILING).strip(_QUOTES).rstrip(_TRAILING)
    words = [word.lower() for word in _WORD.findall(line)]
    if not any(character.isalpha() for character in line) or _loops(words):
        return None
    if language_of(question) == "ko" and not HANGUL.search(line):
        return None
    if not _shares_a_telling_word(words, question):
        return None
    return _bounded(line)


def title_from(written: str | None, question: str) -> Title:
    """The model's title when it wrote one, else the first message's."""
    cleaned = clean_title(written, question) if written is not None else None
    return Title(cleaned, True) if cleaned else Title(fallback_title(question), False)


async def write_title(client: AsyncOpenAI, model: str, question: str) -> str:
    """What the model writes for the question's title (not yet cleaned). Cancelling it closes
    the request at once; raises the client's errors."""
    request: dict[str, Any] = {
        "model": model,
        "messages": title_prompt(question),
        "max_tokens": TITLE_MAX_TOKENS,
        "temperature": 0,
        "stop": ["\n"],
        "timeout": TITLE_TIMEOUT_SECONDS,
        "extra_headers": request_ids.outgoing_headers(),
    }
    stream = await client.chat.completions.create(**request, stream=True)
    written = ""
    async with stream:  # leaving it, also when cancelled, closes the request
        async for chunk in stream:
            delta = chunk.choices[0].delta.content if chunk.choices else None
            written += delta or ""
            if len(written) > WRITTEN_CHARS:
                break
    return written


def _bounded(text: str) -> str:
    text = " ".join(text.split())
    if len(text) <= MAX_TITLE_CHARS:
        return text
    cut = text[: MAX_TITLE_CHARS - 1]
    inside_a_word = not text[MAX_TITLE_CHARS - 1].isspace()
    if inside_a_word and " " in cut[MAX_TITLE_CHARS // 2 :]:  # at a word's end, when one is near
        cut = cut[: cut.rindex(" ")]
    return cut.rstrip(_TRAILING) + "…"


def _loops(words: list[str]) -> bool:
    """The same word three times, or half the words again: a model caught in a loop."""
    if any(words.count(word) >= 3 for word in set(words) if len(word) > 1):
        return True
    return len(words) >= 4 and len(set(words)) <= len(words) // 2


def _shares_a_telling_word(words: list[str], question: str) -> bool:
    asked = [word.lower() for word in _WORD.findall(question)]
    return any(
        _same_word(word, other)
        for word in words
        if word not in NOT_TELLING and len(word) > 1
        for other in asked
        if other not in NOT_TELLING
    )


def _same_word(one: str, other: str) -> bool:
    """The same word, or with another ending: plan/planning; a Korean word with another
    particle written onto it (고양이는/고양이와)."""
    shorter, longer = sorted((one, other), key=len)
    if HANGUL.search(shorter):
        differ = (i for i, (a, b) in enumerate(zip(shorter, longer, strict=False)) if a != b)
        common = next(differ, len(shorter))
        return common >= max(2, len(shorter) - 2)
    return len(shorter) >= 3 and longer.startswith(shorter)
