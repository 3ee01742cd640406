// What this server's API offers beyond the core routes, read from its OpenAPI schema, so that
// views show a feature exactly when the server has it (never a control that cannot work).
//
// - timeline: GET /tracks/{track_id}/tags/timeline (tags over time on the track page; the
//   server has it since the timeline route landed);
// - textSearch: a free-text query on GET /search (a search box beside the tag search; no
//   release has it yet).
// Result regions need no detection: a result that carries a `region` shows it.

export function detectFeatures(openapi) {
  const paths = (openapi && openapi.paths) || {};
  const searchParams = (paths["/search"]?.get?.parameters ?? []).map((p) => p.name);
  return {
    timeline: Boolean(paths["/tracks/{track_id}/tags/timeline"]?.get),
    textSearch: searchParams.includes("q") || searchParams.includes("text"),
    textParam: searchParams.includes("q") ? "q" : searchParams.includes("text") ? "text" : null,
  };
}

/** The part of a track a result points at, in seconds: its `region` when the API gives one,
 * else where the query clip was found by its fingerprint (`match.offset` plus the clip's
 * length); null when neither. */
export function regionOf(result, queryDuration) {
  const r = result.region;
  if (r && Number.isFinite(r.start) && Number.isFinite(r.end) && r.end > r.start) {
    return { start: r.start, end: r.end, source: "region" };
  }
  if (result.match && Number.isFinite(result.match.offset)) {
    const length = Number.isFinite(queryDuration) ? queryDuration : 0;
    return { start: result.match.offset, end: result.match.offset + length, source: "match" };
  }
  return null;
}
