// Runs the /browser page's loop guard (web/src/loop_guard.js) for tests/support/js_loop_guard.py:
// one JSON request a line on stdin, one JSON answer a line on stdout.
//   {"op": "guard", "deltas": [...], "rules": {...}} → {"loop": {keep, span} | null, "read", "text"}
//   {"op": "units", "texts": [...]} → {"units": [[...], ...]}
//   {"op": "rules", "rules": {...}} → {"error": null | "RangeError: ..."}
import { createInterface } from "node:readline";
import { LoopGuard, loopRules, unitsOf } from "../../web/src/loop_guard.js";

function guard({ deltas, rules }) {
  const loopGuard = new LoopGuard(loopRules(rules));
  let read = 0;
  for (const delta of deltas) {
    read += 1;
    if (loopGuard.feed(delta) !== null) break;
  }
  return { loop: loopGuard.loop, read, text: loopGuard.text, units: loopGuard.units };
}

function rules(request) {
  try {
    loopRules(request.rules);
    return { error: null };
  } catch (error) {
    return { error: `${error.name}: ${error.message}` };
  }
}

const operations = {
  guard,
  units: ({ texts }) => ({ units: texts.map(unitsOf) }),
  rules,
};

for await (const line of createInterface({ input: process.stdin })) {
  const request = JSON.parse(line);
  process.stdout.write(`${JSON.stringify(operations[request.op](request))}\n`);
}
