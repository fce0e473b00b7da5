// Notices when a streamed answer has fallen into a loop: the chat's loop guard
// (foundry_local_chat/chat/loop_guard.py, whose docstring explains the rules and where their
// numbers come from), rule for rule, for the /browser page. tests/unit/ui/test_browser_loop_guard.py
// runs both on the same answers and requires the same verdicts.
//
// The text is read as units: a word (lower-cased), one Hangul, kana or CJK character, or one
// punctuation mark. Any of three rules finds a loop:
// - a span of p ≤ 64 units comes back word for word: the last max(14, 2·p) units each equal the
//   unit p earlier, allowing 15 % to differ (a counter may count up in a span of words), so long
//   as the last copy brings no word the answer had not used before; a line drawn with one mark
//   (a table's |---|, a rule, a heading's =====) repeats nothing, up to 80 units;
// - a few words churn: among the last 40 units, at most 55 % of the 2-grams are distinct and
//   none of the units is a word the answer had not used before;
// - a line comes back: the same line a third time among the last five lines, with at most one
//   line never seen before between the copies (lines of two different words or more, none in a
//   ``` code block).
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
const TRAILING_BLANKS = /[ \t]+$/; // Python's rstrip(" \t")
const LEADING_SPACE = new RegExp(`^[${SPACE}]+`, "u");

function rstrip(text) {
  return text.replace(TRAILING_SPACE, "");
}

function strip(text) {
  return rstrip(text).replace(LEADING_SPACE, "");
}

// What a Markdown table's separator row, a rule or a heading's underline is drawn with, and the
// longest such line (a terminal's width): a line of marks that goes on is read as any other.
const RULE_MARKS = new Set("-=_*~+|:.#");
const LONGEST_RULE = 80;

// A line's units as one key (a Python tuple's equality).
function lineKey(units) {
  return JSON.stringify(units);
}

// The three rules' thresholds (loop_guard.LoopRules).
export const DEFAULT_RULES = Object.freeze({
  // A span that comes back word for word.
  minRepeatUnits: 14, // the repeats cover at least this many units...
  minRepeats: 2, // ...and at least this many copies after the first
  maxSpanUnits: 64, // the longest span looked for
  repeatShare: 0.85, // share of units equal to the unit a span earlier
  wordsForOneCounter: 1, // a span with this many different words may count up one number;
  wordsPerCounter: 3, // several, with this many different words for each
  // A few words churning.
  window: 40, // units looked at together
  n: 2, // units per n-gram
  maxDistinctShare: 0.55, // at most this share of the window's n-grams are distinct
  churnNewWords: 0, // and at most this many of its units are words not used before
  // A line that comes back.
  lineCopies: 3, // the same line this many times...
  lineWindow: 5, // ...among the last this many lines (blank ones and code not counted)
  maxNewLines: 1, // with at most this many lines never seen before between the copies
  lineWords: 2, // a line counts with at least this many different words
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
  if (!(rules.lineCopies >= 2 && rules.lineCopies <= rules.lineWindow && rules.maxNewLines >= 0)) {
    throw new RangeError("2 ≤ lineCopies ≤ lineWindow and maxNewLines ≥ 0");
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
    this.seenUnits = new Set();
    this.isNew = []; // whether each unit is the first of its kind
    this.lineOf = []; // the line each unit is in
    this.ruled = []; // whether the line is drawn with rule marks up to each unit
    this.read = 0; // the text before this offset is cut into units
    this.agree = []; // per span: whether each of the last units equals the one a span earlier
    this.agreeing = []; // per span: how many of those do
    this.novelAt = []; // per span: where a new unit last differed
    for (let span = 0; span <= this.rules.maxSpanUnits; span++) {
      this.agree.push([]);
      this.agreeing.push(0);
      this.novelAt.push(-1);
    }
    this.grams = []; // the window's n-grams, oldest first
    this.gramCounts = new Map();
    this.churnRead = []; // the units it reads (not those of a rule line)
    this.churnNovel = 0; // how many of them are new words
    this.lineFirst = 0; // the unit the line being read begins with
    this.lineNo = 0;
    this.inCode = false; // inside a ``` fence
    this.lines = []; // the last lineWindow lines: {key, first, isNew}
    this.seenLines = new Set();
  }

  feed(delta) {
    if (this.loop !== null) return this.loop;
    this.text += delta;
    let gapEnd = this.text.length;
    UNIT.lastIndex = this.read;
    for (let match; (match = UNIT.exec(this.text)) !== null; ) {
      const end = match.index + match[0].length;
      if (end === this.text.length && match.groups.word !== undefined) {
        gapEnd = match.index;
        break; // the word may go on in the next delta
      }
      this.loop = this.lineEnded(match.index);
      if (this.loop !== null) return this.loop;
      const unit = match[0].toLowerCase();
      this.units.push(unit);
      this.starts.push(match.index);
      this.numeric.push(NUMBER.test(unit));
      this.lettered.push(this.lettered.at(-1) + (LETTER.test(unit) ? 1 : 0));
      this.isNew.push(!this.seenUnits.has(unit));
      this.seenUnits.add(unit);
      const inLine = this.units.length - 1 - this.lineFirst;
      const ruled = inLine === 0 || (this.ruled.at(-1) && inLine < LONGEST_RULE);
      this.ruled.push(RULE_MARKS.has(unit) && ruled);
      this.lineOf.push(this.lineNo);
      this.read = end;
      this.loop = this.repeatedSpan() ?? this.churn();
      if (this.loop !== null) return this.loop;
    }
    this.loop = this.lineEnded(gapEnd);
    return this.loop;
  }

  // -- a span that comes back word for word --

  // Whether the unit at `at` repeats the one a span earlier; counters may count up in a span of
  // words (loop_guard.LoopGuard._same). A mark in a line drawn with it repeats nothing.
  same(at, span) {
    const units = this.units;
    if (this.ruled[at] && this.lineOf[at - span] === this.lineOf[at]) {
      return false; // a line drawn with one mark: a table's separator row, a rule
    }
    if (units[at] === units[at - span]) return true;
    if (!(this.numeric[at] && this.numeric[at - span])) return false;
    const first = at - span + 1;
    const lettered = this.lettered[at + 1] - this.lettered[first];
    if (!lettered) return false; // numbers without words: counting
    let counters = 0;
    for (let i = first; i <= at; i++) {
      // `.at`, as Python's units[i - span]: in the text's first span, a negative index reads
      // from the end (the Python guard's verdicts, the weekly plan's among them, depend on it).
      if (this.numeric[i] && units[i] !== units.at(i - span)) counters += 1;
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
      if (!same && this.novel(last)) this.novelAt[span] = last; // something new: no copy
      const needed = this.repeatUnits(span);
      if (agree.length > needed) this.agreeing[span] -= agree.shift() ? 1 : 0;
      if (
        agree.length === needed &&
        this.agreeing[span] >= this.rules.repeatShare * needed &&
        this.novelAt[span] <= last - span
      ) {
        let firstRepeat = last - needed + 1;
        while (firstRepeat - span > 0 && this.same(firstRepeat - 1, span)) firstRepeat -= 1;
        firstRepeat = this.repeatsStart(firstRepeat, last, span);
        return this.cut(firstRepeat - span, firstRepeat);
      }
    }
    return null;
  }

  // Where the repeats found from `first` to `last` begin: with a whole span of units that repeat
  // (before it, a unit may equal the one a span earlier by chance), or else with the first unit
  // that repeats (when each copy differs a little).
  repeatsStart(first, last, span) {
    for (let at = first; at < last - span + 2; at++) {
      let whole = true;
      for (let i = at; i < at + span && whole; i++) whole = this.same(i, span);
      if (whole) return at;
    }
    let start = first;
    while (!this.same(start, span)) start += 1; // a differing unit may lead the run
    return start;
  }

  // -- a few words churning --

  churn() {
    const { n, window } = this.rules;
    const last = this.units.length - 1;
    if (this.ruled[last]) return null; // a separator row or a rule says nothing
    const read = this.churnRead;
    read.push(last);
    this.churnNovel += this.novel(last) ? 1 : 0;
    if (read.length > window) this.churnNovel -= this.novel(read.shift()) ? 1 : 0;
    if (read.length < n) return null;
    const gram = read
      .slice(-n)
      .map((i) => this.units[i])
      .join("\u0000");
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
    if (this.churnNovel > this.rules.churnNewWords) return null; // a listing: new words come
    // The churn began at the window's first n-gram that comes back in it; keep up to where it
    // first came back.
    const at = [...read];
    const grams = [];
    for (let k = 0; k < at.length - n + 1; k++) {
      grams.push(
        at
          .slice(k, k + n)
          .map((i) => this.units[i])
          .join("\u0000"),
      );
    }
    for (let offset = 0; offset < grams.length; offset++) {
      if (this.gramCounts.get(grams[offset]) > 1) {
        const again = grams.indexOf(grams[offset], offset + 1);
        return this.cut(at[offset], at[again]);
      }
    }
    return null; // unreachable: a window with fewer distinct n-grams than n-grams repeats one
  }

  // Whether the unit is a word (or syllable) the answer had not used before.
  novel(at) {
    return this.isNew[at] && this.lettered[at + 1] > this.lettered[at];
  }

  // -- a line that comes back --

  // Reads the line that ends when a newline comes between the last unit read and `before` (only
  // whitespace lies between them).
  lineEnded(before) {
    const first = this.lineFirst;
    const end = this.units.length;
    if (first === end || !this.text.slice(this.read, before).includes("\n")) return null;
    this.lineFirst = end;
    this.lineNo += 1;
    const units = this.units.slice(first, end);
    const fence = units.slice(0, 3).join("");
    if (units.length >= 3 && (fence === "```" || fence === "~~~")) {
      this.inCode = !this.inCode;
      return null;
    }
    if (this.inCode) return null; // code repeats lines on purpose; the span rule still reads it
    const words = new Set(units.filter((unit) => LETTER.test(unit)));
    const key = lineKey(units);
    const lines = this.lines;
    lines.push({ key, first, isNew: !this.seenLines.has(key) });
    this.seenLines.add(key);
    if (lines.length > this.rules.lineWindow) lines.shift();
    if (words.size < this.rules.lineWords) return null;
    const copies = [];
    lines.forEach((earlier, i) => {
      if (earlier.key === key) copies.push(i);
    });
    if (copies.length < this.rules.lineCopies) return null;
    const since = copies.at(-this.rules.lineCopies);
    const between = lines.slice(since + 1, -1).filter((earlier) => earlier.key !== key);
    if (between.filter((earlier) => earlier.isNew).length > this.rules.maxNewLines) return null;
    const second = lines.slice(since + 1).find((earlier) => earlier.key === key);
    const cut = this.starts[second.first]; // keep the lines up to the line's second copy
    const span = this.text.slice(this.starts[lines[since].first], cut);
    return { keep: rstrip(this.text.slice(0, cut)), span: strip(span) };
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
    const inLine = !this.text.slice(0, cut).replace(TRAILING_BLANKS, "").endsWith("\n");
    if (strip(span).includes("\n") && inLine && lineEnd !== -1 && lineEnd < this.read) {
      cut = lineEnd; // a span of lines: keep the line the repeats begin in whole
    }
    return { keep: rstrip(this.text.slice(0, cut)), span: strip(span) };
  }
}
