// The search view (#/): a query (a clip, a catalogue track or tags), the facet sliders, and
// the results. Moving a slider re-runs a clip or track query with the new mix (debounced;
// only the latest answer is drawn).

import { debounce, latestOnly } from "../debounce.js";
import { h, replace } from "../dom.js";
import { percent, trackLabel } from "../format.js";
import { describeQuery, usesWeights } from "../state.js";
import { describeWeights, equalWeights, formatFacet, normalise } from "../weights.js";
import { resultList } from "./results.js";

const SLIDER_DEBOUNCE_MS = 250;
const TYPING_DEBOUNCE_MS = 200;

export function searchView(ctx) {
  const { store, api } = ctx;
  const status = h("p", { class: "status", role: "status", "aria-live": "polite" });
  const results = h("div", { class: "results-box" });
  const summary = h("p", { class: "query-summary" });
  const queryTags = h("div", { class: "query-tags" });

  const run = latestOnly((query, facet, k, signal) => {
    if (query.kind === "clip") {
      const { file, start, duration } = query;
      return api.similarToClip(file, { start, duration, facet, k }, signal);
    }
    if (query.kind === "track") return api.similarToTrack(query.id, { facet, k }, signal);
    if (query.kind === "text") {
      return api.searchText(query.text, ctx.features.textParam, { k }, signal);
    }
    return api.searchTags(query.tags, { k }, signal);
  });

  async function search() {
    const { query, weights, k } = store.get();
    if (!query) return;
    const facet = usesWeights(query) ? formatFacet(weights) : null;
    store.set({ busy: true, error: null });
    try {
      const { result, stale } = await run(query, facet, k);
      if (!stale) store.set({ busy: false, results: { query, facet, weights, response: result } });
    } catch (err) {
      store.set({ busy: false, error: err.message, results: null });
    }
  }
  const searchSoon = debounce(search, SLIDER_DEBOUNCE_MS);

  let focusResults = false; // after a search a person asked for (not a slider move)
  function ask(query) {
    searchSoon.cancel();
    store.set({ query });
    focusResults = true;
    search();
  }

  const el = h(
    "div",
    { class: "search-view" },
    h(
      "section",
      { class: "query-panel", "aria-labelledby": "query-heading" },
      h("h1", { id: "query-heading", tabindex: "-1" }, "Find music"),
      clipForm(ask),
      trackPicker(ctx, ask),
      tagPicker(ctx, ask),
      ctx.features.textSearch ? textForm(ask) : null,
      facetSliders(ctx, () => {
        if (usesWeights(store.get().query)) searchSoon();
      }),
    ),
    h(
      "section",
      { class: "results-panel", "aria-labelledby": "results-heading" },
      h("h2", { id: "results-heading", tabindex: "-1" }, "Results"),
      summary,
      queryTags,
      status,
      results,
    ),
  );

  function draw(state) {
    const { busy, error, results: shown } = state;
    el.classList.toggle("busy", busy);
    if (busy) status.textContent = "Searching…";
    else if (error) status.textContent = `Error: ${error}`;
    else if (shown) status.textContent = `${shown.response.results.length} results`;
    else status.textContent = "Drop a clip, pick a track or choose tags to search.";
    status.classList.toggle("error", Boolean(error) && !busy);
    if (busy) return;
    if (!shown) {
      replace(results);
      replace(summary);
      replace(queryTags);
      return;
    }
    const mix = usesWeights(shown.query) ? ` — ${mixText(shown.weights)}` : "";
    replace(summary, `Tracks ${describeQuery(shown.query)}${mix}`);
    replace(queryTags, clipTags(shown.response));
    const weighted = usesWeights(shown.query) && formatFacet(shown.weights) !== null;
    const shares = weighted ? normalise(shown.weights) : null;
    replace(results, resultList(shown.response, ctx, shares));
    if (focusResults) {
      focusResults = false;
      el.querySelector("#results-heading").focus(); // brings them into view on a phone too
    }
  }
  const unsubscribe = store.subscribe((state, changed) => {
    if (changed.some((key) => ["busy", "error", "results"].includes(key))) draw(state);
  });
  draw(store.get());
  return {
    el,
    destroy: () => { unsubscribe(); searchSoon.cancel(); },
    search: () => { focusResults = true; search(); },
  };
}

/** "by mood 70 %, genre 30 %", or "all facets alike" for the API's default mix. */
function mixText(weights) {
  return formatFacet(weights) === null ? "all facets alike" : `by ${describeWeights(weights)}`;
}

function clipTags(response) {
  if (response.reading) return readingNote(response.reading);
  const tags = response.query?.tags;
  if (!tags) return null;
  const best = Object.entries(tags)
    .map(([concept, list]) => list[0] && `${concept}: ${list[0].tag} ${percent(list[0].score)}`)
    .filter(Boolean);
  return h("p", { class: "muted" }, `Your clip sounds like ${best.join(", ")}.`);
}

/** How GET /search?q= read the text: "Read as calm, piano, not voice. Not understood: polka." */
function readingNote(reading) {
  const terms = reading.terms.map((t) => `${t.weight < 0 ? "not " : ""}${t.tags.join(" / ")}`);
  const parts = [`Read as ${terms.join(", ") || "nothing"}.`];
  if (reading.no_tag.length) parts.push(`No tag for ${reading.no_tag.join(", ")}.`);
  if (reading.not_understood.length) parts.push(`Not understood: ${reading.not_understood.join(", ")}.`);
  return h("p", { class: "muted reading" }, parts.join(" "));
}

/** Upload or drop a clip; optionally only a part of it (start, duration in seconds). */
function clipForm(ask) {
  const file = h("input", { type: "file", id: "clip-file", name: "file", accept: "audio/*" });
  const start = h("input", { type: "number", id: "clip-start", min: "0", step: "any", inputmode: "decimal", placeholder: "0" });
  const duration = h("input", { type: "number", id: "clip-duration", min: "0", step: "any", inputmode: "decimal", placeholder: "all" });
  const preview = h("div", { class: "clip-preview" });
  let chosen = null;

  function submit() {
    if (!chosen) return;
    const s = Number(start.value) || null;
    const d = Number(duration.value) || null;
    ask({ kind: "clip", file: chosen, start: s, duration: d });
  }
  function choose(f) {
    if (!f) return;
    chosen = f;
    const player = h("audio", { controls: true, src: URL.createObjectURL(f), "aria-label": `Play ${f.name}` });
    replace(preview, player);
    submit();
  }
  file.addEventListener("change", () => choose(file.files[0]));
  const drop = h(
    "label",
    { class: "drop", for: "clip-file" },
    h("span", { class: "drop-text" }, "Drop an audio clip here, or choose a file"),
    file,
  );
  drop.addEventListener("dragover", (e) => {
    e.preventDefault();
    drop.classList.add("over");
  });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (e) => {
    e.preventDefault();
    drop.classList.remove("over");
    choose(e.dataTransfer.files[0]);
  });
  return h(
    "form",
    { class: "card", id: "clip-form", onsubmit: (e) => { e.preventDefault(); submit(); } },
    h("h2", {}, "By a clip"),
    drop,
    preview,
    h(
      "div",
      { class: "row" },
      h("label", { for: "clip-start" }, "From (s)", start),
      h("label", { for: "clip-duration" }, "Length (s)", duration),
      h("button", { type: "submit" }, "Search"),
    ),
  );
}

/** A search box over the catalogue's titles and artists; picking a track searches by it. */
function trackPicker({ api }, ask) {
  const input = h("input", { type: "search", id: "track-q", autocomplete: "off", placeholder: "title or artist" });
  const list = h("ul", { class: "picker", id: "track-matches", "aria-label": "Catalogue tracks" });
  const count = h("p", { class: "muted", "aria-live": "polite" });
  const lookup = latestOnly((q, signal) => api.listTracks({ q, limit: 8 }, signal));
  async function refresh() {
    try {
      const { result, stale } = await lookup(input.value);
      if (stale) return;
      const n = `${result.total} ${result.total === 1 ? "track" : "tracks"}`;
      replace(count, input.value.trim() ? `${n} match` : `${n} in the catalogue`);
      replace(
        list,
        result.tracks.map((t) =>
          h("li", {}, h("button", {
            type: "button",
            class: "link",
            dataset: { trackId: String(t.id) },
            onclick: () => ask({ kind: "track", id: t.id, title: trackLabel(t) }),
          }, trackLabel(t))),
        ),
      );
    } catch (err) {
      replace(count, `Error: ${err.message}`);
    }
  }
  input.addEventListener("input", debounce(refresh, TYPING_DEBOUNCE_MS));
  refresh();
  return h(
    "div",
    { class: "card" },
    h("h2", {}, h("label", { for: "track-q" }, "By a catalogue track")),
    input,
    count,
    list,
  );
}

/** Tags grouped by concept (GET /tags); the chosen ones rank the catalogue (GET /search). */
function tagPicker({ tagsByConcept }, ask) {
  const boxes = [];
  const groups = Object.entries(tagsByConcept).map(([concept, tags]) =>
    h(
      "fieldset",
      { class: "tag-group" },
      h("legend", {}, concept),
      tags.map((tag) => {
        const box = h("input", { type: "checkbox", value: tag, id: `tag-${tag}`, name: "tag" });
        boxes.push(box);
        return h("label", { class: "chip", for: `tag-${tag}` }, box, tag);
      }),
    ),
  );
  const note = h("p", { class: "muted", "aria-live": "polite" });
  return h(
    "form",
    {
      class: "card",
      id: "tag-form",
      onsubmit: (e) => {
        e.preventDefault();
        const tags = boxes.filter((b) => b.checked).map((b) => b.value);
        if (!tags.length) {
          note.textContent = "Choose at least one tag.";
          return;
        }
        note.textContent = "";
        ask({ kind: "tags", tags });
      },
    },
    h("h2", {}, "By tags"),
    h("details", {}, h("summary", {}, "Choose tags"), groups),
    note,
    h("button", { type: "submit" }, "Search by tags"),
  );
}

/** Free text, when the server has it (feature-detected). */
function textForm(ask) {
  const input = h("input", { type: "search", id: "text-q", placeholder: "e.g. calm piano" });
  return h(
    "form",
    { class: "card", onsubmit: (e) => { e.preventDefault(); if (input.value.trim()) ask({ kind: "text", text: input.value.trim() }); } },
    h("h2", {}, h("label", { for: "text-q" }, "By a description")),
    input,
    h("button", { type: "submit" }, "Search"),
  );
}

/** A slider per facet of the loaded model; `onChange` runs after each move. */
function facetSliders({ store }, onChange) {
  const { facets } = store.get();
  if (facets.length < 2) {
    return h("div", { class: "card" }, h("h2", {}, "Facets"), h("p", { class: "muted" }, "This model has one facet: results rank by the whole embedding."));
  }
  const outputs = {};
  const inputs = {};
  const sliders = facets.map((name) => {
    const id = `facet-${name}`;
    const input = h("input", { type: "range", id, min: "0", max: "100", step: "5", value: String(store.get().weights[name]) });
    input.addEventListener("input", () => {
      store.set({ weights: { ...store.get().weights, [name]: Number(input.value) } });
      label();
      onChange();
    });
    inputs[name] = input;
    outputs[name] = h("output", { for: id, id: `${id}-share` });
    return h("div", { class: "slider" }, h("label", { for: id }, name), input, outputs[name]);
  });
  const note = h("p", { class: "muted" });
  function label() {
    const { weights } = store.get();
    const shares = normalise(weights);
    for (const name of facets) {
      outputs[name].textContent = percent(shares[name]);
      inputs[name].setAttribute("aria-valuetext", `${name} ${percent(shares[name])}`);
    }
    const allZero = Object.values(weights).every((w) => w === 0);
    note.textContent = allZero
      ? "Every slider is at zero: results rank by all facets equally."
      : `Ranking by ${describeWeights(weights)}. Applies to clip and track searches.`;
  }
  const reset = h("button", {
    type: "button",
    class: "small",
    onclick: () => {
      store.set({ weights: equalWeights(facets) });
      for (const name of facets) inputs[name].value = "100";
      label();
      onChange();
    },
  }, "Equal weights");
  label();
  return h("fieldset", { class: "card sliders", id: "facet-sliders" }, h("legend", {}, "Weigh the facets"), sliders, note, reset);
}
