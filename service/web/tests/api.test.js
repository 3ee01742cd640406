import assert from "node:assert/strict";
import { test } from "node:test";

import { ApiError, createApi, queryString } from "../static/api.js";

/** A fetch that records each request and answers from `reply(url, init)`. */
function fakeFetch(reply) {
  const calls = [];
  const fetch = async (url, init) => {
    calls.push({ url, ...init });
    const { status = 200, body = {}, json = true } = reply(url, init) ?? {};
    return {
      ok: status >= 200 && status < 300,
      status,
      statusText: status === 502 ? "Bad Gateway" : "",
      json: async () => {
        if (!json) throw new SyntaxError("not JSON");
        return body;
      },
    };
  };
  return { fetch, calls };
}

test("queryString repeats arrays and leaves out empty values", () => {
  assert.equal(queryString({ tag: ["jazz", "happy"], k: 5, facet: null, q: "" }), "?tag=jazz&tag=happy&k=5");
  assert.equal(queryString({ facet: "mood:0.7,genre:0.3" }), "?facet=mood%3A0.7%2Cgenre%3A0.3");
  assert.equal(queryString({}), "");
});

test("reads go to the API's paths with their parameters", async () => {
  const { fetch, calls } = fakeFetch(() => ({ body: { results: [] } }));
  const api = createApi({ fetch });
  await api.similarToTrack(42, { facet: "mood:0.7,genre:0.3", k: 5 });
  await api.searchTags(["jazz", "sad"], { k: 3 });
  await api.listTracks({ q: "  bach ", limit: 8 });
  await api.track("7");
  assert.deepEqual(calls.map((c) => [c.method, c.url]), [
    ["GET", "/similar/42?facet=mood%3A0.7%2Cgenre%3A0.3&k=5"],
    ["GET", "/search?tag=jazz&tag=sad&k=3"],
    ["GET", "/tracks?q=bach&offset=0&limit=8"],
    ["GET", "/tracks/7"],
  ]);
  assert.ok(calls.every((c) => !("X-API-Key" in c.headers)), "reads never send the key");
  assert.equal(api.audioUrl(42), "/tracks/42/audio");
});

test("ids are numbers in paths, never text", async () => {
  const { fetch, calls } = fakeFetch(() => ({}));
  const api = createApi({ fetch });
  await api.track("../admin").catch(() => {});
  assert.equal(calls[0].url, "/tracks/NaN");
  assert.equal(api.audioUrl("1/../../x"), "/tracks/NaN/audio");
});

test("a clip search posts a form with the clip, its range and the facet mix", async () => {
  const { fetch, calls } = fakeFetch(() => ({ body: { results: [] } }));
  const api = createApi({ fetch });
  const file = new Blob(["RIFF"], { type: "audio/wav" });
  await api.similarToClip(file, { start: 30, duration: 10, facet: "mood:1", k: 5 });
  const [call] = calls;
  assert.equal(call.method, "POST");
  assert.equal(call.url, "/similar");
  assert.deepEqual([...call.body.keys()], ["file", "start", "duration", "facet", "k"]);
  assert.equal(call.body.get("start"), "30");
  assert.equal(call.body.get("facet"), "mood:1");
  await api.similarToClip(file, {});
  assert.deepEqual([...calls[1].body.keys()], ["file", "k"], "unset start/duration/facet are left out");
});

test("writes send the key as X-API-Key, read at the time of the call", async () => {
  const { fetch, calls } = fakeFetch((url, init) => (init.method === "DELETE" ? { status: 204 } : { status: 201, body: { created: true } }));
  let key = null;
  const api = createApi({ fetch, getKey: () => key });
  await assert.rejects(api.deleteTrack(3), (err) => err instanceof ApiError && err.status === 401);
  assert.equal(calls.length, 0, "no request without a key");
  key = "k-123";
  assert.equal(await api.deleteTrack(3), null);
  await api.uploadTrack(new Blob(["x"]), { title: "T", artist: "", album: null });
  assert.deepEqual(calls.map((c) => [c.method, c.url, c.headers["X-API-Key"]]), [
    ["DELETE", "/tracks/3", "k-123"],
    ["POST", "/tracks", "k-123"],
  ]);
  assert.deepEqual([...calls[1].body.keys()], ["file", "title"]);
});

test("errors carry the API's detail and status", async () => {
  const { fetch } = fakeFetch((url) =>
    url.startsWith("/similar") ? { status: 422, body: { detail: "unknown facet 'x'; valid facets: genre, mood" } } : { status: 502, json: false });
  const api = createApi({ fetch });
  await assert.rejects(api.similarToTrack(1, { facet: "x" }), { name: "ApiError", status: 422, message: "unknown facet 'x'; valid facets: genre, mood" });
  await assert.rejects(api.facets(), { status: 502, message: "502 Bad Gateway" });
});

test("a server that cannot be reached is an ApiError; an abort stays an abort", async () => {
  const down = createApi({ fetch: async () => { throw new TypeError("Failed to fetch"); } });
  await assert.rejects(down.tags(), { name: "ApiError", status: 0, message: "cannot reach the server" });
  const aborted = createApi({ fetch: async () => { throw new DOMException("aborted", "AbortError"); } });
  await assert.rejects(aborted.tags(), { name: "AbortError" });
});

test("signals reach fetch", async () => {
  const { fetch, calls } = fakeFetch(() => ({}));
  const api = createApi({ fetch });
  const controller = new AbortController();
  await api.similarToTrack(1, {}, controller.signal);
  assert.equal(calls[0].signal, controller.signal);
});
