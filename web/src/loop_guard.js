// Notices when a streamed answer has fallen into a loop: the chat's loop guard
// (foundry_local_chat/chat/loop_guard.py, whose docstring explains the rules and where their
// numbers come from), rule for rule, for the /browser page. tests/unit/ui/test_browser_loop_guard.py
// runs both on the same answers and requires the same verdicts.
//
// The text is read as units: a word (lower-cased), one Hangul, kana or CJK character, or one
// punctuation mark. Either rule finds a loop:
// - a span of p ≤ 64 units comes back word for word: the last max(16, 2·p) units each equal the
//   unit p earlier, allowing one in twenty to differ (a counter may count up in a span of words);
// - a few words churn: among the last 48 units, at most 45 % of the 2-grams are distinct.
//
// Python's `\w`, `\d` and `\s` (Unicode, for str) are spelled out: JavaScript's differ.

const SYLLABIC = "\\u1100-\\u11ff\\u3040-\\u30ff\\u3130-\\u318f\\u3400-\\u4dbf\\u4e00-\\u9fff\\uac00-\\ud7a3";
// Python's \w: str.isalnum() (letters, and every character with a numeric value) or "_".
const WORD = "\\p{L}\\p{N}_";
// Python's \s: str.isspace().
const SPACE = "\\t\\n\\v\\f\\r\\x1c-\\x20\\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000";
// A word; one Hangul syllable or jamo, kana or CJK ideograph; or one other visible character.
const UNIT = new RegExp(
  `(?<word>(?:(?![${SYLLABIC}])[${WORD}])+)|[${SYLLABIC}]|[^${WORD}${SPACE}]`,
  "gu",
);
const NUMBER = /^\p{Nd}+$/u; // Python's \d+, whole
const LETTER = /[\p{L}\p{Nl}\p{No}]/u; // Python's [^\W\d_]
const ALNUM = /^[\p{L}\p{N}]/u; // str.isalnum() of the first character
const TRAILING_SPACE = new RegExp(`[${SPACE}]+$`, "u");
const LEADING_SPACE = new RegExp(`^[${SPACE}]+`, "u");

function rstrip(text) {
  return text.replace(TRAILING_SPACE, "");
}

function strip(text) {
  return rstrip(text).replace(LEADING_SPACE, "");
}

// The two rules' thresholds (loop_guard.LoopRules).
export const DEFAULT_RULES = Object.freeze({
  // A span that comes back word for word.
  minRepeatUnits: 16, // the repeats cover at least this many units...
  minRepeats: 2, // ...and at least this many copies after the first
  maxSpanUnits: 64, // the longest span looked for
  repeatShare: 0.95, // share of units equal to the unit a span earlier
  wordsForOneCounter: 1, // a span with this many different words may count up one number;
  wordsPerCounter: 3, // several, with this many different words for each
  // A few words churning.
  window: 48, // units looked at together
  n: 2, // units per n-gram
  maxDistinctShare: 0.45, // at most this share of the window's n-grams are distinct
});

export function loopRules(overrides = {}) {
  const rules = { ...DEFAULT_RULES, ...overrides };
  if (!(rules.n >= 1 && rules.n < rules.window)) {
    throw new RangeError(`n=${rules.n} must be at least 1 and less than window=${rules.window}`);
  }
  for (const name of ["repeatShare", "maxDistinctShare"]) {
    if (!(rules[name] > 0 && rules[name] <= 1)) {
      throw new RangeError(`${name}=${rules[name]} must lie in (0, 1]`);
    }
  }
  if (rules.minRepeatUnits < 2 || rules.minRepeats < 1 || rules.maxSpanUnits < 1) {
    throw new RangeError("minRepeatUnits ≥ 2, minRepeats ≥ 1 and maxSpanUnits ≥ 1");
  }
  return Object.freeze(rules);
}

// The text's units, each with the offset it starts at.
export function unitsAt(text) {
  const unit = new RegExp(UNIT); // its own lastIndex: the guard's feed moves UNIT's
  return Array.from(text.matchAll(unit), (match) => [match.index, match[0].toLowerCase()]);
}

export function unitsOf(text) {
  return unitsAt(text).map(([, unit]) => unit);
}

// Feed it an answer's text deltas in order; `feed` returns the loop once one is found (and keeps
// returning it, reading no more): {keep, span}, `keep` being the text worth keeping (everything
// before the repeats, and the repeated span once), `span` what repeats.
export class LoopGuard {
  constructor(rules = DEFAULT_RULES) {
    this.rules = loopRules(rules);
    this.text = "";
    this.loop = null;
    this.units = [];
    this.starts = []; // where each unit starts in the text
    this.numeric = []; // whether each unit is a number
    this.lettered = [0]; // how many of the units before each index have a letter
    this.read = 0; // the text before this offset is cut into units
    this.agree = []; // per span: whether each of the last units equals the one a span earlier
    this.agreeing = []; // per span: how many of those do
    for (let span = 0; span <= this.rules.maxSpanUnits; span++) {
      this.agree.push([]);
      this.agreeing.push(0);
    }
    this.grams = []; // the window's n-grams, oldest first
    this.gramCounts = new Map();
  }

  feed(delta) {
    if (this.loop !== null) return this.loop;
    this.text += delta;
    UNIT.lastIndex = this.read;
    for (let match; (match = UNIT.exec(this.text)) !== null; ) {
      const end = match.index + match[0].length;
      if (end === this.text.length && match.groups.word !== undefined) {
        break; // the word may go on in the next delta
      }
      const unit = match[0].toLowerCase();
      this.units.push(unit);
      this.starts.push(match.index);
      this.numeric.push(NUMBER.test(unit));
      this.lettered.push(this.lettered.at(-1) + (LETTER.test(unit) ? 1 : 0));
      this.read = end;
      this.loop = this.repeatedSpan() ?? this.churn();
      if (this.loop !== null) return this.loop;
    }
    return null;
  }

  // -- a span that comes back word for word --

  // Whether the unit at `at` repeats the one a span earlier; counters may count up in a span of
  // words (loop_guard.LoopGuard._same).
  same(at, span) {
    const units = this.units;
    if (units[at] === units[at - span]) return true;
    if (!(this.numeric[at] && this.numeric[at - span])) return false;
    const first = at - span + 1;
    const lettered = this.lettered[at + 1] - this.lettered[first];
    if (!lettered) return false; // numbers without words: counting
    let counters = 0;
    for (let i = first; i <= at; i++) {
      if (this.numeric[i] && units[i] !== units[i - span]) counters += 1;
    }
    const needed =
      counters === 1 ? this.rules.wordsForOneCounter : this.rules.wordsPerCounter * counters;
    if (lettered < needed) return false;
    const words = new Set();
    for (let i = first; i <= at; i++) if (LETTER.test(units[i])) words.add(units[i]);
    return words.size >= needed;
  }

  repeatUnits(span) {
    return Math.max(this.rules.minRepeatUnits, this.rules.minRepeats * span);
  }

  repeatedSpan() {
    const last = this.units.length - 1;
    for (let span = 1; span <= Math.min(this.rules.maxSpanUnits, last); span++) {
      const agree = this.agree[span];
      const same = this.same(last, span);
      agree.push(same);
      this.agreeing[span] += same ? 1 : 0;
      const needed = this.repeatUnits(span);
      if (agree.length > needed) this.agreeing[span] -= agree.shift() ? 1 : 0;
      if (agree.length === needed && this.agreeing[span] >= this.rules.repeatShare * needed) {
        let firstRepeat = last - needed + 1;
        while (firstRepeat - span > 0 && this.same(firstRepeat - 1, span)) firstRepeat -= 1;
        while (!this.same(firstRepeat, span)) firstRepeat += 1; // a differing unit may lead
        return this.cut(firstRepeat - span, firstRepeat);
      }
    }
    return null;
  }

  // -- a few words churning --

  churn() {
    const { n, window } = this.rules;
    if (this.units.length < n) return null;
    const gram = this.units.slice(-n).join("\u0000");
    this.grams.push(gram);
    this.gramCounts.set(gram, (this.gramCounts.get(gram) ?? 0) + 1);
    if (this.grams.length > window - n + 1) {
      const old = this.grams.shift();
      const count = this.gramCounts.get(old) - 1;
      if (count) this.gramCounts.set(old, count);
      else this.gramCounts.delete(old);
    }
    if (this.grams.length < window - n + 1) return null;
    if (this.gramCounts.size > this.rules.maxDistinctShare * this.grams.length) return null;
    // The churn began at the window's first n-gram that comes back in it; keep up to where it
    // first came back.
    const start = this.units.length - window;
    const grams = [];
    for (let i = start; i < this.units.length - n + 1; i++) {
      grams.push(this.units.slice(i, i + n).join("\u0000"));
    }
    for (let offset = 0; offset < grams.length; offset++) {
      if (this.gramCounts.get(grams[offset]) > 1) {
        const again = grams.indexOf(grams[offset], offset + 1);
        return this.cut(start + offset, start + again);
      }
    }
    return null; // unreachable: a window with fewer distinct n-grams than n-grams repeats one
  }

  cut(spanStart, repeatsStart) {
    // Let the repeats begin with a word or number: a copy keeps its closing punctuation.
    const ahead = this.units.slice(repeatsStart, repeatsStart + repeatsStart - spanStart);
    const found = ahead.findIndex((unit) => ALNUM.test(unit));
    const shift = found === -1 ? 0 : found;
    spanStart += shift;
    repeatsStart += shift;
    let cut = this.starts[repeatsStart];
    const span = this.text.slice(this.starts[spanStart], cut);
    const lineEnd = this.text.indexOf("\n", cut); // only what was read: however split
    if (strip(span).includes("\n") && lineEnd !== -1 && lineEnd < this.read) {
      cut = lineEnd; // a span of lines: keep the line the repeats begin in whole
    }
    return { keep: rstrip(this.text.slice(0, cut)), span: strip(span) };
  }
}
