"""A chat's title never delays an answer: two apps side by side on the same real endpoint (the
bundled model), one with titles and one without, in the same run. In each trial a new chat asks
a question, and the follow-up is sent at once: with titles, while the title is being written.
The follow-up's first token, as the browser shows it, comes no later with titles than without."""

from __future__ import annotations

import statistics
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page

from tests.support.apps import PASSWORD, launch_chainlit
from tests.support.browser import (
    COMPOSER,
    new_chat,
    new_page,
    send_prompt,
    sign_in,
    wait_for_answer,
)
from tests.support.processes import Endpoint, RunningProcess, add_user
from tests.support.recording_proxy import RecordedRequest, RecordingProxy

TRIALS = 6  # per app, taken in turns so that the machine's load falls on both alike
QUESTION = "What is the capital of France?"
FOLLOW_UP = "And of Spain?"
# The margin for the machine's noise: on two cores shared with other work the same first token
# varies by hundreds of milliseconds between trials. A follow-up that waited for the title
# (cancelling it turned off) came 612 ms later here (median of 6 pairs); cancelled, 147 ms
# sooner, i.e. no later.
NOISE_SECONDS = 0.25

# Resolves with the time the answer to the newest question shows its first text.
FIRST_TEXT = """(asked) => {
  const questions = document.querySelectorAll('[data-step-type="user_message"]');
  if (questions.length <= asked) return false;
  let node = questions[questions.length - 1].nextElementSibling;
  for (; node; node = node.nextElementSibling) {
    if (node.matches('[data-step-type="assistant_message"]')) break;
  }
  const text = node && node.querySelector('.message-content');
  return text && text.innerText.trim() ? performance.now() : false;
}"""


def is_title_request(request: RecordedRequest) -> bool:
    return bool(request.body and request.body.get("stop") == ["\n"])


def nth_title(proxy: RecordingProxy, n: int) -> Callable[[RecordedRequest], bool]:
    """Matches the n-th title request (from 0) the proxy was sent."""

    def matches(request: RecordedRequest) -> bool:
        titles = [r for r in proxy.chat_requests() if is_title_request(r)]
        return len(titles) > n and request is titles[n]

    return matches


@pytest.fixture
async def proxy(endpoint: Endpoint) -> AsyncIterator[RecordingProxy]:
    recording = RecordingProxy(endpoint.url, api_key=endpoint.api_key, see_clients_leave=True)
    yield await recording.start()
    await recording.close()


@dataclass
class Apps:
    with_titles: str
    without_titles: str


@pytest.fixture
def apps(bundled_model_dir: Path, proxy: RecordingProxy, tmp_path: Path) -> Iterator[Apps]:
    users = tmp_path / "users"
    add_user(users, "alice", PASSWORD)
    started: list[RunningProcess] = []
    common = {
        "FOUNDRY_LOCAL": "0", "BASE_URL": proxy.url, "USERS_FILE": str(users),
        "TEMPERATURE": "0", "MAX_TOKENS": "32", "LOOP_GUARD": "0",
    }  # fmt: skip
    with_titles = launch_chainlit(tmp_path / "on", started, CHAT_TITLES="1", **common)
    without_titles = launch_chainlit(tmp_path / "off", started, CHAT_TITLES="0", **common)
    yield Apps(with_titles, without_titles)
    for process in started:
        process.stop()


async def signed_in(browser: Browser, url: str) -> Page:
    _, page, _ = await new_page(browser, url)
    await sign_in(page)
    return page


async def follow_up_first_token(page: Page) -> float:
    """Seconds from pressing Enter on the follow-up to its answer's first text on screen."""
    asked = await page.locator('[data-step-type="user_message"]').count()
    composer = page.locator(COMPOSER)
    await composer.fill(FOLLOW_UP)
    pressed = await page.evaluate("performance.now()")
    await composer.press("Enter")
    shown = await page.wait_for_function(FIRST_TEXT, arg=asked, polling="raf", timeout=60_000)
    seconds = (await shown.json_value() - pressed) / 1000
    await wait_for_answer(page)
    return float(seconds)


async def test_the_follow_up_is_answered_as_fast_with_titles_as_without(
    browser: Browser, apps: Apps, proxy: RecordingProxy
) -> None:
    titled = await signed_in(browser, apps.with_titles)
    untitled = await signed_in(browser, apps.without_titles)
    with_titles: list[float] = []
    without_titles: list[float] = []
    at_the_model: dict[bool, list[float]] = {True: [], False: []}
    cancelled = 0
    for _ in range(TRIALS):
        for page, times in ((titled, with_titles), (untitled, without_titles)):
            await new_chat(page)
            titles_before = len([r for r in proxy.chat_requests() if is_title_request(r)])
            await send_prompt(page, QUESTION)
            await wait_for_answer(page)
            title = None
            if page is titled:  # the follow-up goes while the model writes the title
                title = await proxy.wait_for_request(nth_title(proxy, titles_before))
            times.append(await follow_up_first_token(page))
            follow_up = [r for r in proxy.chat_requests() if not is_title_request(r)][-1]
            if follow_up.first_text_seconds is not None:
                at_the_model[page is titled].append(follow_up.first_text_seconds)
            if title is not None and title.client_closed_early:
                cancelled += 1
    await titled.context.close()
    await untitled.context.close()
    # Each trial with titles next to the one without that followed it: the machine's load
    # changes between trials far more than within a pair.
    delays = [on - off for on, off in zip(with_titles, without_titles, strict=True)]
    print(
        f"\nfollow-up's first token on screen (ms): with titles {milliseconds(with_titles)}, "
        f"without {milliseconds(without_titles)}; at the model, with titles "
        f"{milliseconds(at_the_model[True])}, without {milliseconds(at_the_model[False])}; "
        f"titles cancelled by the follow-up: {cancelled} of {TRIALS}"
    )
    titles = [r for r in proxy.chat_requests() if is_title_request(r)]
    assert len(titles) >= TRIALS, "the app with titles made none"
    delay = statistics.median(delays)
    assert delay <= NOISE_SECONDS, f"titles delayed the follow-up by {delay * 1000:.0f} ms"


def milliseconds(times: list[float]) -> str:
    shown = ", ".join(f"{t * 1000:.0f}" for t in times)
    return f"median {statistics.median(times) * 1000:.0f} ({shown})" if times else "none"
