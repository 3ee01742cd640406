// The track page (#/track/42): metadata, tags, the audio, and its nearest tracks in each facet.

import { bar, h, replace } from "../dom.js";
import { barWidth, formatDuration, percent, trackLabel } from "../format.js";
import { trackHref } from "../router.js";
import { audioPlayer, metaLine } from "./results.js";
import { timelineSection } from "./timeline.js";

const NEIGHBOURS = 5;

export function trackView(ctx, id) {
  const { api, store } = ctx;
  const el = h("article", { class: "track-view", "aria-busy": "true" }, h("p", { class: "muted" }, "Loading…"));
  api
    .track(id)
    .then((track) => draw(track))
    .catch((err) => {
      el.removeAttribute("aria-busy");
      replace(el, h("h1", { tabindex: "-1" }, "Track not available"), h("p", { class: "error" }, err.message), h("p", {}, h("a", { href: "#/" }, "Back to search")));
      el.querySelector("h1").focus();
    });

  function draw(track) {
    ctx.rememberTrack(track);
    el.removeAttribute("aria-busy");
    const neighbours = h("div", { class: "neighbours" });
    replace(
      el,
      h("h1", { tabindex: "-1" }, track.title || `Track ${track.id}`),
      h("p", { class: "result-meta" }, metaLine(track)),
      audioPlayer(api.audioUrl(track.id), trackLabel(track)),
      h(
        "div",
        { class: "actions" },
        h("button", { type: "button", onclick: () => ctx.searchLike(track) }, "Find similar tracks"),
        store.get().apiKey ? deleteButton(ctx, track) : null,
      ),
      h("div", { class: "track-columns" },
        h("section", { "aria-labelledby": "about-heading" }, h("h2", { id: "about-heading" }, "About"), details(track)),
        h("section", { "aria-labelledby": "tags-heading" }, h("h2", { id: "tags-heading" }, "Tags"), tagList(track.tags)),
      ),
      ctx.features.timeline ? timelineSection(api, track) : null,
      h("section", { "aria-labelledby": "neighbours-heading" }, h("h2", { id: "neighbours-heading" }, "Nearest tracks, facet by facet"), neighbours),
    );
    el.querySelector("h1").focus();
    loadNeighbours(ctx, track, neighbours);
  }
  return { el, destroy() {} };
}

function details(track) {
  const rows = [
    ["Artist", track.artist],
    ["Album", track.album],
    ["Year", track.year],
    ["Duration", formatDuration(track.duration)],
    ["ISRC", track.isrc],
    ["External id", track.external_id],
    ["Source", track.source],
    ["Added", track.created ? new Date(track.created).toLocaleString() : null],
    ["Track id", String(track.id)],
  ].filter(([, v]) => v !== null && v !== undefined && v !== "");
  return h("dl", { class: "details" }, rows.map(([k, v]) => [h("dt", {}, k), h("dd", {}, String(v))]));
}

const SHOWN_TAGS = 5;

/** Each concept's tags, most probable first: the first few, the rest behind "all N". */
function tagList(tagsByConcept) {
  const bars = (tags) => tags.map((t) => bar(t.tag, barWidth(t.score), percent(t.score), { className: "tag" }));
  return Object.entries(tagsByConcept).map(([concept, tags]) =>
    h(
      "div",
      { class: "tag-bars concept", dataset: { concept } },
      h("h3", {}, concept),
      bars(tags.slice(0, SHOWN_TAGS)),
      tags.length > SHOWN_TAGS
        ? h("details", {}, h("summary", {}, `all ${tags.length}`), bars(tags.slice(SHOWN_TAGS)))
        : null,
    ),
  );
}

async function loadNeighbours(ctx, track, box) {
  const facets = ctx.store.get().facets;
  const lists = await Promise.all(
    facets.map((facet) =>
      ctx.api
        .similarToTrack(track.id, { facet: facets.length > 1 ? facet : null, k: NEIGHBOURS })
        .then((r) => ({ facet, results: r.results }))
        .catch((err) => ({ facet, error: err.message })),
    ),
  );
  replace(
    box,
    lists.map(({ facet, results, error }) =>
      h(
        "section",
        { class: "neighbour-list", dataset: { facet } },
        h("h3", {}, facets.length > 1 ? `In ${facet}` : "Overall"),
        error
          ? h("p", { class: "error" }, error)
          : h("ol", {}, results.map((r) =>
              h("li", { dataset: { trackId: String(r.track.id) } },
                h("a", { href: trackHref(r.track.id) }, trackLabel(r.track)),
                h("span", { class: "muted" }, ` ${(facets.length > 1 ? r.facets[facet] : r.score).toFixed(2)}`)))),
      ),
    ),
  );
}

function deleteButton(ctx, track) {
  return h(
    "button",
    {
      type: "button",
      class: "danger",
      onclick: async () => {
        if (!window.confirm(`Delete “${trackLabel(track)}” from the catalogue?`)) return;
        try {
          await ctx.api.deleteTrack(track.id);
          ctx.forgetTrack(track.id);
          ctx.notify(`Deleted “${trackLabel(track)}”.`);
          window.location.hash = "#/";
        } catch (err) {
          ctx.notify(`Could not delete: ${err.message}`, true);
        }
      },
    },
    "Delete track",
  );
}
