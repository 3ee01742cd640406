import assert from "node:assert/strict";
import { test } from "node:test";

import { describeWeights, equalWeights, formatFacet, normalise, parseFacet } from "../static/weights.js";

const NAMES = ["genre", "mood", "instrument", "era"];

test("equal weights are the API's default: no facet parameter", () => {
  assert.equal(formatFacet(equalWeights(NAMES)), null);
  assert.equal(formatFacet(equalWeights(NAMES, 35)), null);
});

test("slider values become normalised shares in the sliders' order, zeros left out", () => {
  assert.equal(formatFacet({ genre: 30, mood: 70, instrument: 0, era: 0 }), "genre:0.3,mood:0.7");
  assert.equal(formatFacet({ genre: 0, mood: 100, instrument: 0, era: 0 }), "mood:1");
  assert.equal(formatFacet({ genre: 100, mood: 100, instrument: 100, era: 0 }), "genre:0.33,mood:0.33,instrument:0.33");
  assert.equal(formatFacet({ genre: 100, mood: 50, instrument: 50, era: 100 }), "genre:0.33,mood:0.17,instrument:0.17,era:0.33");
});

test("every slider at zero asks for the default rather than an error", () => {
  assert.equal(formatFacet(equalWeights(NAMES, 0)), null);
  assert.equal(describeWeights(equalWeights(NAMES, 0)), "no facet");
});

test("normalise sums to one and ignores negative values", () => {
  assert.deepEqual(normalise({ a: 1, b: 3 }), { a: 0.25, b: 0.75 });
  assert.deepEqual(normalise({ a: -2, b: 2 }), { a: 0, b: 1 });
  assert.deepEqual(normalise({ a: 0, b: 0 }), { a: 0, b: 0 });
});

test("parseFacet reads the API's syntax back into slider values", () => {
  assert.deepEqual(parseFacet("mood:0.7,genre:0.3", NAMES), { genre: 30, mood: 70, instrument: 0, era: 0 });
  assert.deepEqual(parseFacet("mood", NAMES), { genre: 0, mood: 100, instrument: 0, era: 0 });
  assert.deepEqual(parseFacet(null, NAMES), equalWeights(NAMES));
  assert.throws(() => parseFacet("tempo:1", NAMES), /unknown facet 'tempo'/);
  assert.throws(() => parseFacet("mood:-1", NAMES), /bad weight for 'mood'/);
  assert.throws(() => parseFacet("mood:x", NAMES), /bad weight/);
});

test("formatFacet and parseFacet round-trip", () => {
  const weights = { genre: 20, mood: 50, instrument: 0, era: 30 };
  assert.deepEqual(parseFacet(formatFacet(weights), NAMES), weights);
});

test("describeWeights reads as shares", () => {
  assert.equal(describeWeights({ genre: 30, mood: 70, instrument: 0, era: 0 }), "genre 30 %, mood 70 %");
  assert.equal(describeWeights(equalWeights(NAMES)), "genre 25 %, mood 25 %, instrument 25 %, era 25 %");
});
