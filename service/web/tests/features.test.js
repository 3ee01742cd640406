import assert from "node:assert/strict";
import { test } from "node:test";

import { detectFeatures, regionOf } from "../static/features.js";

const TODAY = {
  paths: {
    "/search": { get: { parameters: [{ name: "tag" }, { name: "k" }, { name: "exclude_artist" }] } },
    "/tracks/{track_id}": { get: {} },
  },
};

test("today's API has neither tags over time nor free-text search", () => {
  assert.deepEqual(detectFeatures(TODAY), { timeline: false, textSearch: false, textParam: null });
  assert.deepEqual(detectFeatures(null), { timeline: false, textSearch: false, textParam: null });
});

test("they show once the schema has them", () => {
  const later = structuredClone(TODAY);
  later.paths["/tracks/{track_id}/tags/timeline"] = { get: {} };
  later.paths["/search"].get.parameters.push({ name: "q" });
  assert.deepEqual(detectFeatures(later), { timeline: true, textSearch: true, textParam: "q" });
});

test("a result's region: its own, else where the fingerprint found the clip, else none", () => {
  assert.deepEqual(regionOf({ region: { start: 12, end: 20 }, match: { offset: 3 } }, 10), { start: 12, end: 20, source: "region" });
  assert.deepEqual(regionOf({ match: { offset: 31.5, aligned: 57 } }, 10), { start: 31.5, end: 41.5, source: "match" });
  assert.equal(regionOf({ match: null }, 10), null);
  assert.equal(regionOf({ region: { start: 5, end: 5 } }, 10), null, "an empty region is no region");
});
