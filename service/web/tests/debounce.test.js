import assert from "node:assert/strict";
import { test } from "node:test";

import { debounce, latestOnly } from "../static/debounce.js";

function fakeTimers() {
  let now = 0;
  let next = 1;
  const pending = new Map();
  return {
    setTimeout(fn, ms) { pending.set(next, { fn, at: now + ms }); return next++; },
    clearTimeout(id) { pending.delete(id); },
    advance(ms) {
      now += ms;
      for (const [id, { fn, at }] of [...pending]) if (at <= now) { pending.delete(id); fn(); }
    },
  };
}

test("debounce runs once, with the last arguments, after the input settles", () => {
  const timers = fakeTimers();
  const seen = [];
  const f = debounce((x) => seen.push(x), 250, timers);
  f(1); timers.advance(100); f(2); timers.advance(100); f(3);
  timers.advance(249);
  assert.deepEqual(seen, []);
  timers.advance(1);
  assert.deepEqual(seen, [3]);
  f(4); f.cancel(); timers.advance(1000);
  assert.deepEqual(seen, [3]);
});

test("latestOnly aborts the earlier call and drops its answer", async () => {
  const resolvers = [];
  const signals = [];
  const run = latestOnly((x, signal) => {
    signals.push(signal);
    return new Promise((resolve) => resolvers.push(() => resolve(x)));
  });
  const first = run("slow");
  const second = run("fast");
  assert.equal(signals[0].aborted, true);
  assert.equal(signals[1].aborted, false);
  resolvers[1]();
  resolvers[0]();
  assert.deepEqual(await second, { result: "fast", stale: false });
  assert.deepEqual(await first, { stale: true });
});

test("latestOnly passes errors of the latest call on, and swallows aborts", async () => {
  const boom = latestOnly(async () => { throw new Error("boom"); });
  await assert.rejects(boom(), /boom/);
  const aborting = latestOnly(async () => { throw new DOMException("gone", "AbortError"); });
  assert.deepEqual(await aborting(), { stale: true });
});
