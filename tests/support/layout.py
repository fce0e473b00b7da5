"""What a screen's layout looks like, measured in the page with bounding boxes: whether anything
sticks out to the right (a phone would scroll sideways), whether the header's items overlap or
leave the screen, and whether an element is in view."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from playwright.async_api import Locator, Page

# Elements sticking out past the viewport's right edge, unless an ancestor clips them (a code
# block or a table scrolls within itself, which is fine).
_STICKING_OUT_JS = """() => {
  const width = document.documentElement.clientWidth;
  const clips = (element) => {
    for (let up = element.parentElement; up && up !== document.body; up = up.parentElement) {
      if (getComputedStyle(up).overflowX !== "visible") return true;
    }
    return false;
  };
  const out = [];
  for (const element of document.body.querySelectorAll("*")) {
    const box = element.getBoundingClientRect();
    if (box.width === 0 || box.height === 0 || box.right <= width + 0.5) continue;
    if (getComputedStyle(element).visibility === "hidden" || clips(element)) continue;
    const name = element.id ? `#${element.id}` : element.tagName.toLowerCase();
    const text = element.textContent.trim().slice(0, 40);
    out.push(`${name} ends at ${Math.round(box.right)} px: ${text}`);
  }
  return {width, scrollWidth: document.documentElement.scrollWidth, out};
}"""

# The header's own items: its buttons and links (a link inside a button counts once), shown.
_HEADER_ITEMS_JS = """() => {
  const header = document.querySelector("#header");
  if (!header) return [];
  const all = [...header.querySelectorAll("button, a, [role=combobox]")];
  return all
    .filter((item) => !all.some((other) => other !== item && other.contains(item)))
    .map((item) => {
      const box = item.getBoundingClientRect();
      const name = item.id || item.getAttribute("aria-label") || item.textContent.trim();
      return {name, left: box.left, right: box.right, top: box.top, bottom: box.bottom};
    })
    .filter((item) => item.right > item.left && item.bottom > item.top);
}"""


@dataclass(frozen=True)
class Box:
    name: str
    left: float
    right: float
    top: float
    bottom: float

    def overlaps(self, other: Box) -> bool:
        return (
            min(self.right, other.right) - max(self.left, other.left) > 0.5
            and min(self.bottom, other.bottom) - max(self.top, other.top) > 0.5
        )


async def sticking_out(page: Page) -> list[str]:
    """What makes the page wider than its viewport: one line per element (empty: nothing)."""
    found: dict[str, Any] = await page.evaluate(_STICKING_OUT_JS)
    lines: list[str] = list(found["out"])
    if found["scrollWidth"] > found["width"]:
        lines.insert(0, f"the page is {found['scrollWidth']} px wide in {found['width']} px")
    return lines


async def header_items(page: Page) -> list[Box]:
    return [Box(**item) for item in await page.evaluate(_HEADER_ITEMS_JS)]


async def header_trouble(page: Page) -> list[str]:
    """Header items that overlap one another or leave the screen (empty: none)."""
    width = await page.evaluate("document.documentElement.clientWidth")
    items = await header_items(page)
    trouble = [f"{item.name} leaves the screen" for item in items if item.right > width + 0.5]
    trouble += [f"{item.name} leaves the screen" for item in items if item.left < -0.5]
    for at, item in enumerate(items):
        trouble += [f"{item.name} overlaps {other.name}" for other in items[at + 1 :]
                    if item.overlaps(other)]  # fmt: skip
    return trouble


async def box_of(locator: Locator) -> Box:
    """The element's box, once it is shown. React may replace the element between the wait and
    the measure (the page moving from / to /thread/…): then it is waited for again."""
    for _ in range(10):
        await locator.wait_for(state="visible")
        box = await locator.bounding_box()
        if box is not None:
            return Box("", box["x"], box["x"] + box["width"], box["y"], box["y"] + box["height"])
    raise AssertionError(f"{locator} is not shown")
