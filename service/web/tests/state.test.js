import assert from "node:assert/strict";
import { test } from "node:test";

import { createStore, describeQuery, initialState, usesWeights } from "../static/state.js";

test("set merges, notifies with the changed keys, and skips no-op changes", () => {
  const store = createStore({ a: 1, b: 2 });
  const seen = [];
  store.subscribe((state, changed) => seen.push([state, changed]));
  store.set({ a: 1 });
  store.set({ a: 5, c: 3 });
  store.set((s) => ({ b: s.a * 2 }));
  assert.deepEqual(seen, [
    [{ a: 5, b: 2, c: 3 }, ["a", "c"]],
    [{ a: 5, b: 10, c: 3 }, ["b"]],
  ]);
  assert.deepEqual(store.get(), { a: 5, b: 10, c: 3 });
});

test("unsubscribe stops notifications; a listener may unsubscribe while notified", () => {
  const store = createStore({ n: 0 });
  let calls = 0;
  const off = store.subscribe(() => { calls += 1; off(); });
  let other = 0;
  store.subscribe(() => { other += 1; });
  store.set({ n: 1 });
  store.set({ n: 2 });
  assert.deepEqual([calls, other], [1, 2]);
});

test("the initial state holds no key; setting one does not change the initial object", () => {
  const state = initialState();
  assert.equal(state.apiKey, null);
  const store = createStore(state);
  store.set({ apiKey: "secret" });
  assert.equal(store.get().apiKey, "secret");
  assert.equal(state.apiKey, null, "the initial object is not mutated");
});

test("queries describe themselves; only clip and track queries use the sliders", () => {
  const clip = { kind: "clip", file: { name: "a.wav" }, start: 30, duration: 10 };
  assert.equal(describeQuery(clip), "like the clip a.wav (from 30 s, 10 s)");
  assert.equal(describeQuery({ kind: "clip", file: { name: "a.wav" } }), "like the clip a.wav");
  assert.equal(describeQuery({ kind: "track", id: 4, title: "Air — Bach" }), "like “Air — Bach”");
  assert.equal(describeQuery({ kind: "track", id: 4 }), "like “track 4”");
  assert.equal(describeQuery({ kind: "tags", tags: ["jazz", "happy"] }), "tagged jazz + happy");
  assert.equal(describeQuery(null), "");
  assert.deepEqual([clip, { kind: "track", id: 1 }, { kind: "tags", tags: [] }, null].map(usesWeights), [true, true, false, false]);
});
