// The page's state: one plain object, changed only through set(), watched with subscribe().
// It lives in memory only: the API key too is a field here, so reloading the page forgets it
// (nothing is written to localStorage, sessionStorage or cookies).

export function createStore(initial) {
  let state = { ...initial };
  const listeners = new Set();
  return {
    get: () => state,
    set(patch) {
      const next = { ...state, ...(typeof patch === "function" ? patch(state) : patch) };
      const changed = Object.keys(next).filter((key) => next[key] !== state[key]);
      if (changed.length === 0) return;
      state = next;
      for (const listener of [...listeners]) listener(state, changed);
    },
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
}

/** What the page starts with. */
export function initialState() {
  return {
    apiKey: null, // the write key, in memory only
    facets: [], // facet names of the loaded model (GET /facets)
    weights: {}, // slider values by facet, 0-100
    k: 10,
    query: null, // {kind: "clip", file, start, duration} | {kind: "track", id, title}
    //              | {kind: "tags", tags: [...]}
    results: null, // the last response of the query
    busy: false,
    error: null,
  };
}

/** A short description of a query, for headings and the live region. */
export function describeQuery(query) {
  if (!query) return "";
  if (query.kind === "clip") {
    const range = query.start || query.duration
      ? ` (from ${query.start || 0} s${query.duration ? `, ${query.duration} s` : ""})`
      : "";
    return `like the clip ${query.file?.name ?? ""}${range}`.trim();
  }
  if (query.kind === "track") return `like “${query.title ?? `track ${query.id}`}”`;
  if (query.kind === "tags") return `tagged ${query.tags.join(" + ")}`;
  if (query.kind === "text") return `described as “${query.text}”`;
  return "";
}

/** Whether the facet sliders change this query's ranking (tag search ranks by the tags). */
export function usesWeights(query) {
  return query !== null && (query.kind === "clip" || query.kind === "track");
}
