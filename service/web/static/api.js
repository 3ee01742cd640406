// The HTTP API as functions. Every call goes to this server (same origin); errors come back
// as ApiError carrying the status and the API's own {"detail": "..."} message.
//
// createApi({ fetch, getKey }) takes fetch and the key getter as arguments so that tests can
// hand in fakes; the key is read at each write and sent as X-API-Key, never stored here.

export class ApiError extends Error {
  constructor(status, detail) {
    super(detail);
    this.name = "ApiError";
    this.status = status;
    this.detail = detail;
  }
}

/** A query string from an object: arrays repeat the key, null/undefined/"" are left out. */
export function queryString(params) {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    for (const v of Array.isArray(value) ? value : [value]) {
      if (v !== null && v !== undefined && v !== "") search.append(key, String(v));
    }
  }
  const text = search.toString();
  return text ? `?${text}` : "";
}

async function errorOf(response) {
  let detail = `${response.status} ${response.statusText}`.trim();
  try {
    const body = await response.json();
    if (body && typeof body.detail === "string") detail = body.detail;
  } catch {
    // not JSON (a proxy's error page): keep the status line
  }
  return new ApiError(response.status, detail);
}

export function createApi({ fetch, getKey = () => null }) {
  async function call(path, { method = "GET", body, write = false, signal } = {}) {
    const headers = { Accept: "application/json" };
    if (write) {
      const key = getKey();
      if (!key) throw new ApiError(401, "enter the API key first (Add tracks)");
      headers["X-API-Key"] = key;
    }
    let response;
    try {
      response = await fetch(path, { method, body, headers, signal });
    } catch (err) {
      if (err && err.name === "AbortError") throw err;
      throw new ApiError(0, "cannot reach the server");
    }
    if (!response.ok) throw await errorOf(response);
    return response.status === 204 ? null : response.json();
  }

  function form(fields) {
    const data = new FormData();
    for (const [key, value] of Object.entries(fields)) {
      if (value === null || value === undefined || value === "") continue;
      for (const v of Array.isArray(value) ? value : [value]) data.append(key, v);
    }
    return data;
  }

  return {
    ready: () => call("/readyz"),
    facets: () => call("/facets"),
    tags: () => call("/tags"),
    openapi: () => call("/openapi.json"),
    listTracks: ({ q = "", offset = 0, limit = 20 } = {}, signal) =>
      call(`/tracks${queryString({ q: q.trim(), offset, limit })}`, { signal }),
    track: (id) => call(`/tracks/${Number(id)}`),
    similarToTrack: (id, { facet = null, k = 10 } = {}, signal) =>
      call(`/similar/${Number(id)}${queryString({ facet, k })}`, { signal }),
    similarToClip: (file, { start = null, duration = null, facet = null, k = 10 } = {}, signal) =>
      call("/similar", { method: "POST", body: form({ file, start, duration, facet, k }), signal }),
    searchTags: (tags, { k = 10 } = {}, signal) =>
      call(`/search${queryString({ tag: tags, k })}`, { signal }),
    searchText: (text, param, { k = 10 } = {}, signal) =>
      call(`/search${queryString({ [param]: text, k })}`, { signal }),
    tagTimeline: (id) => call(`/tracks/${Number(id)}/tags/timeline`),
    uploadTrack: (file, meta = {}) =>
      call("/tracks", { method: "POST", body: form({ file, ...meta }), write: true }),
    deleteTrack: (id) => call(`/tracks/${Number(id)}`, { method: "DELETE", write: true }),
    audioUrl: (id) => `/tracks/${Number(id)}/audio`,
  };
}
