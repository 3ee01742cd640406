// The page: loads what the server offers (facets, tags, API features), then shows the view the
// URL fragment names. State is in memory (state.js); views are functions returning elements.

import { createApi } from "./api.js";
import { h, replace } from "./dom.js";
import { detectFeatures } from "./features.js";
import { trackLabel } from "./format.js";
import { parseRoute } from "./router.js";
import { createStore, initialState } from "./state.js";
import { equalWeights } from "./weights.js";
import { addView } from "./views/add.js";
import { searchView } from "./views/search.js";
import { trackView } from "./views/track.js";

async function main() {
  const root = document.getElementById("main");
  const store = createStore(initialState());
  const api = createApi({ fetch: (...args) => window.fetch(...args), getKey: () => store.get().apiKey });
  let facets, tags, openapi, ready;
  try {
    [facets, tags, openapi, ready] = await Promise.all([api.facets(), api.tags(), api.openapi(), api.ready()]);
  } catch (err) {
    replace(root, h("h1", {}, "The service is not ready"), h("p", { class: "error" }, err.message), h("p", {}, "Reload the page in a moment."));
    return;
  }
  const names = facets.facets.map((f) => f.name);
  store.set({ facets: names, weights: equalWeights(names) });
  drawServerInfo(ready);

  const trackCache = new Map(); // id -> Promise<TrackPublic>, for result tags
  const tagsByConcept = {};
  for (const t of tags.tags) (tagsByConcept[t.concept] ||= []).push(t.name);

  const ctx = {
    api,
    store,
    features: detectFeatures(openapi),
    tagsByConcept,
    trackInfo(id) {
      if (!trackCache.has(id)) trackCache.set(id, api.track(id).catch((err) => { trackCache.delete(id); throw err; }));
      return trackCache.get(id);
    },
    rememberTrack: (track) => trackCache.set(track.id, Promise.resolve(track)),
    forgetTrack: (id) => trackCache.delete(id),
    searchLike(track) {
      store.set({ query: { kind: "track", id: track.id, title: trackLabel(track) }, results: null });
      pendingSearch = true;
      window.location.hash = "#/";
    },
    notify,
  };

  let view = null;
  let pendingSearch = false;
  function render() {
    view?.destroy();
    const route = parseRoute(window.location.hash);
    if (route.name === "track") view = trackView(ctx, route.id);
    else if (route.name === "add") view = addView(ctx);
    else if (route.name === "search") view = searchView(ctx);
    else view = { el: h("div", {}, h("h1", { tabindex: "-1" }, "Nothing here"), h("p", {}, h("a", { href: "#/" }, "Back to search"))), destroy() {} };
    replace(root, view.el);
    document.querySelectorAll("nav a").forEach((a) => {
      const current = parseRoute(a.getAttribute("href")).name === route.name;
      if (current) a.setAttribute("aria-current", "page");
      else a.removeAttribute("aria-current");
    });
    if (route.name === "search" && pendingSearch) {
      pendingSearch = false;
      view.search();
    }
    if (route.name !== "track") root.querySelector("h1")?.focus();
  }
  store.subscribe((state, changed) => {
    if (changed.includes("apiKey")) drawKeyBadge(state.apiKey);
  });
  window.addEventListener("hashchange", render);
  render();
  document.body.dataset.ready = "true"; // the browser tests wait for this
}

function drawServerInfo(ready) {
  const info = document.getElementById("server-info");
  if (info) info.textContent = `${ready.tracks} tracks · model ${ready.model}`;
}

function drawKeyBadge(key) {
  const badge = document.getElementById("key-badge");
  if (badge) badge.textContent = key ? "key set" : "";
}

function notify(message, isError = false) {
  const box = document.getElementById("notice");
  box.textContent = message;
  box.classList.toggle("error", isError);
}

main();
