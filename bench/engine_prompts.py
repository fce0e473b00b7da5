"""The engine bench's prompts and its quality check's questions (standard library only: the
prefill profile uses them in the build virtual environment)."""

from __future__ import annotations

SHORT_PROMPTS = [
    "Explain how a rainbow forms.",
    "Write a short story about a robot learning to paint.",
    "Give me five tips for learning a new language.",
    "Describe the water cycle.",
]
SHORT_MAX_TOKENS = 128
LONG_MAX_TOKENS = 16
QUALITY_MAX_TOKENS = 48
# Questions whose answer a 135M model knows, each with the words that make an answer right.
QUESTIONS: list[tuple[str, tuple[str, ...]]] = [
    ("What is the capital of France?", ("paris",)),
    ("What is the capital of Japan?", ("tokyo",)),
    ("What is the capital of Italy?", ("rome",)),
    ("What is the largest planet in our solar system?", ("jupiter",)),
    ("Which planet is known as the Red Planet?", ("mars",)),
    ("Who wrote the play Romeo and Juliet?", ("shakespeare",)),
    ("What is the chemical formula of water?", ("h2o", "h₂o")),
    ("At what temperature in degrees Celsius does water boil at sea level?", ("100",)),
    ("How many days are there in a week?", ("seven", "7")),
    ("What gas do plants take from the air for photosynthesis?", ("carbon dioxide", "co2")),
    ("What color is the sky on a clear day?", ("blue",)),
    ("How many legs does a spider have?", ("eight", "8")),
]
_COLORS = ["red", "green", "blue", "yellow", "white", "black", "brown", "grey"]
_ANIMALS = ["fox", "cat", "dog", "horse", "goat", "duck", "owl", "rabbit", "deer"]
_FRUITS = ["apple", "pear", "plum", "cherry", "grape", "peach"]
LONG_NOTES = 50  # about 1,111 prompt tokens with the chat template


def long_prompt(notes: int = LONG_NOTES, version: int = 0) -> str:
    """Notes about gardens and a question about them. Each `version` differs from its first note
    on: llama.cpp reuses the cached start of the previous prompt, which a repeated prompt would
    turn into a prefill of nothing."""
    lines = [
        f"Note {i}: the {_COLORS[(i + version) % 8]} {_ANIMALS[(i + version) % 9]} in garden {i} "
        f"ate {i % 7 + 2} {_FRUITS[(i + version) % 6]}s before noon."
        for i in range(1, notes + 1)
    ]
    question = (
        "Which animal ate the most fruit, and in which garden? "
        "Answer in one short sentence, please."
    )
    return "\n".join(lines) + "\n\n" + question
