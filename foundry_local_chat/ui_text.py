"""The app's own words on the welcome screen, in English and Korean (the UI's two languages)."""

from __future__ import annotations

ENGLISH, KOREAN = "en", "ko"

PROFILE_DESCRIPTIONS = {
    ENGLISH: {
        "Foundry Local": "The model runs on this machine through Foundry Local. Nothing leaves it.",
        "Remote": "The OpenAI-compatible server at BASE_URL answers.",
        "Auto": "Local first; the BASE_URL server answers when the local endpoint is down or the "
        "prompt is long.",
    },
    KOREAN: {
        "Foundry Local": "모델이 Foundry Local을 통해 이 컴퓨터에서 실행됩니다. "
        "입력한 내용은 밖으로 나가지 않습니다.",
        "Remote": "BASE_URL의 OpenAI 호환 서버가 답합니다.",
        "Auto": "로컬 우선입니다. 로컬 엔드포인트가 멈췄거나 프롬프트가 길면 BASE_URL 서버가 "
        "답합니다.",
    },
}

# Short, concrete prompts that a small local model answers well.
STARTERS = {
    ENGLISH: [
        ("Explain a concept", "Explain what a black hole is in two sentences."),
        ("Sleep better", "Give me three tips for a good night's sleep."),
        ("Write a haiku", "Write a haiku about autumn leaves."),
        ("Python question", "What is the difference between a list and a tuple in Python?"),
    ],
    KOREAN: [
        ("개념 설명", "블랙홀이 무엇인지 두 문장으로 설명해 주세요."),
        ("숙면 팁", "잠을 잘 자는 방법 세 가지를 알려 주세요."),
        ("하이쿠 짓기", "가을 낙엽에 대한 하이쿠를 지어 주세요."),
        ("파이썬 질문", "파이썬에서 리스트와 튜플의 차이는 무엇인가요?"),
    ],
}


def language_of(code: str | None) -> str:
    """ko, ko-KR, … → Korean; anything else → English."""
    return KOREAN if (code or "").lower().split("-")[0] == KOREAN else ENGLISH
