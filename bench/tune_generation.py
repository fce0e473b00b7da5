"""Measure how repetition_penalty and temperature change the bundled model's answers.

Runs in the build venv (onnxruntime-genai). Prints each setting's figures and writes them to
bench/results/tuning.json and, dated, to docs/benchmarks/tuning.md (committed; the README links to
it): the share of distinct word 3-grams (1.0 = no repetition) and how many answers still contain
their expected word.

    .venv-build/bin/python -m bench.tune_generation MODEL_DIR
    # the bundled model: ~/.cache/foundry-local-chat/bundled/smollm2-135m-instruct-int4-cpu
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import onnxruntime_genai as og

from bench.report import table, write_report

PROMPTS = [
    ("What is the capital of France?", "Paris"),
    ("Tell me about the history of Rome.", "Rome"),
    ("Write a short poem about the sea.", "sea"),
    ("Explain what a Python list is.", "list"),
    ("Give three tips for better sleep.", "sleep"),
]


def distinct_trigrams(text: str) -> float:
    words = text.split()
    grams = [tuple(words[i : i + 3]) for i in range(len(words) - 2)]
    return len(set(grams)) / len(grams) if grams else 1.0


def answer(model, tokenizer, prompt: str, penalty: float, temperature: float) -> str:
    text = tokenizer.apply_chat_template(
        json.dumps([{"role": "user", "content": prompt}]), add_generation_prompt=True
    )
    tokens = tokenizer.encode(text)
    params = og.GeneratorParams(model)
    options = dict(max_length=len(tokens) + 200, repetition_penalty=penalty)
    options.update(
        do_sample=temperature > 0, temperature=max(temperature, 0.01), top_p=0.9, random_seed=7
    )
    params.set_search_options(**options)
    generator = og.Generator(model, params)
    generator.append_tokens(tokens)
    out = []
    stream = tokenizer.create_stream()
    while not generator.is_done():
        generator.generate_next_token()
        out.append(stream.decode(generator.get_next_tokens()[0]))
    return "".join(out)


def main(model_dir: str) -> None:
    model = og.Model(model_dir)
    tokenizer = og.Tokenizer(model)
    rows = []
    for penalty in (1.0, 1.05, 1.1, 1.15, 1.2):
        for temperature in (0.0, 0.3, 0.7):
            answers = [answer(model, tokenizer, p, penalty, temperature) for p, _ in PROMPTS]
            row = {
                "repetition_penalty": penalty,
                "temperature": temperature,
                "distinct_3grams": round(sum(map(distinct_trigrams, answers)) / len(answers), 3),
                "expected_words_found": sum(
                    w.lower() in a.lower() for a, (_, w) in zip(answers, PROMPTS, strict=False)
                ),
                "capital_answer": answers[0][:80],
            }
            rows.append(row)
            print(json.dumps(row))
    out = Path(__file__).parent / "results" / "tuning.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(rows, indent=2))
    report = write_report("tuning", "Repetition penalty and temperature", markdown(rows))
    print(f"written: {out}, {report}")


def markdown(rows: list[dict]) -> str:
    header = ["repetition penalty", "temperature", "distinct word 3-grams", "expected word found"]
    cells = [
        [row["repetition_penalty"], row["temperature"], f"{row['distinct_3grams']:.1%}",
         f"{row['expected_words_found']} of {len(PROMPTS)}"]
        for row in rows
    ]  # fmt: skip
    return f"""
The bundled model's answers to {len(PROMPTS)} prompts (up to 200 tokens each, top_p 0.9, seed 7)
for each setting. The build writes the chosen penalty into the model's `genai_config.json`
(`bundled_model.REPETITION_PENALTY`), because Foundry Local's web service rejects
`frequency_penalty` and `presence_penalty`.

{table(header, cells)}
"""


if __name__ == "__main__":
    main(sys.argv[1])
