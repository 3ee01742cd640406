import assert from "node:assert/strict";
import { test } from "node:test";

import { barWidth, formatDuration, formatScore, percent, topTags, trackLabel } from "../static/format.js";

test("durations", () => {
  assert.deepEqual([0, 6.37, 75.4, 3725, -1, NaN].map(formatDuration), ["0:00", "0:06", "1:15", "1:02:05", "–", "–"]);
});

test("percentages, bars and scores are clipped and rounded", () => {
  assert.deepEqual([0.834, 1.2, -0.3, NaN].map(percent), ["83 %", "100 %", "0 %", "–"]);
  assert.deepEqual([0.5, -0.2, 1.5, undefined].map(barWidth), [50, 0, 100, 0]);
  assert.equal(formatScore(0.981888), "0.982");
});

test("track labels fall back to the id", () => {
  assert.equal(trackLabel({ id: 3, title: "Air", artist: "Bach" }), "Air — Bach");
  assert.equal(trackLabel({ id: 3, title: null, artist: null }), "Track 3");
});

test("topTags takes the most probable over every concept", () => {
  const tags = { genre: [{ tag: "jazz", score: 0.9 }, { tag: "rock", score: 0.2 }], mood: [{ tag: "happy", score: 0.6 }] };
  assert.deepEqual(topTags(tags, 2), [{ tag: "jazz", concept: "genre", score: 0.9 }, { tag: "happy", concept: "mood", score: 0.6 }]);
});
