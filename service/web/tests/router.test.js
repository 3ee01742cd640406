import assert from "node:assert/strict";
import { test } from "node:test";

import { parseRoute, trackHref } from "../static/router.js";

test("routes", () => {
  assert.deepEqual(parseRoute(""), { name: "search" });
  assert.deepEqual(parseRoute("#/"), { name: "search" });
  assert.deepEqual(parseRoute("#/?x=1"), { name: "search" });
  assert.deepEqual(parseRoute("#/add"), { name: "add" });
  assert.deepEqual(parseRoute("#/track/42"), { name: "track", id: 42 });
  assert.deepEqual(parseRoute(trackHref(7)), { name: "track", id: 7 });
});

test("anything else is not found, ids included", () => {
  for (const hash of ["#/track/0", "#/track/-1", "#/track/4a", "#/track/", "#/track/12345678901", "#/tracks/1", "#/x"]) {
    assert.equal(parseRoute(hash).name, "notfound", hash);
  }
});
