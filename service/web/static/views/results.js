// A list of results: what each one is, why it ranks (a bar per facet), its tags, and a player.

import { bar, h } from "../dom.js";
import { regionOf } from "../features.js";
import { barWidth, formatDuration, formatScore, percent, trackLabel } from "../format.js";
import { trackHref } from "../router.js";

/**
 * @param {object} response  the API's answer (SimilarResponse or SearchResponse)
 * @param {object} ctx  { api, trackInfo(id) -> Promise<TrackPublic> }
 * @param {object|null} shares  the facet mix ranked by (facets at 0 are drawn muted)
 */
export function resultList(response, ctx, shares = null) {
  const queryDuration = response.query?.duration ?? null;
  return h(
    "ol",
    { class: "results", "aria-labelledby": "results-heading" },
    response.results.map((result, i) => resultItem(result, i + 1, queryDuration, ctx, shares)),
  );
}

function resultItem(result, rank, queryDuration, ctx, shares) {
  const { track } = result;
  const player = audioPlayer(ctx.api.audioUrl(track.id), trackLabel(track));
  const region = regionOf(result, queryDuration);
  return h(
    "li",
    { class: "result", dataset: { trackId: String(track.id) } },
    h(
      "div",
      { class: "result-head" },
      h("span", { class: "rank", "aria-hidden": "true" }, String(rank)),
      h(
        "div",
        { class: "result-name" },
        h("a", { class: "result-title", href: trackHref(track.id) }, track.title || `Track ${track.id}`),
        h("span", { class: "result-meta" }, metaLine(track)),
      ),
      h("span", { class: "score", title: "ranking score" }, formatScore(result.score)),
    ),
    result.match ? matchNote(result.match) : null,
    region ? regionStrip(region, track.duration, player.querySelector("audio")) : null,
    h(
      "div",
      { class: "explain" },
      result.facets ? facetBars(result.facets, shares) : null,
      result.tag_scores ? queryTagBars(result.tag_scores) : null,
      tagSlot(track.id, ctx),
    ),
    player,
  );
}

export function metaLine(track) {
  return [track.artist, track.album, track.year, formatDuration(track.duration)]
    .filter((x) => x !== null && x !== undefined && x !== "")
    .join(" · ");
}

/** One bar per facet: the cosine between the query and this track in that facet; facets
 * the ranking gave no weight are drawn muted. */
export function facetBars(facets, shares = null) {
  return h(
    "div",
    { class: "facet-bars" },
    h("h4", {}, "Similar in"),
    Object.entries(facets).map(([name, cos]) => {
      const unweighted = shares !== null && !(shares[name] > 0);
      return bar(name, barWidth(cos), cos.toFixed(2), { className: `facet${unweighted ? " unweighted" : ""}` });
    }),
  );
}

function queryTagBars(tagScores) {
  return h(
    "div",
    { class: "tag-bars" },
    h("h4", {}, "Query tags"),
    Object.entries(tagScores).map(([tag, p]) => bar(tag, barWidth(p), percent(p))),
  );
}

/** The track's most probable tag in each concept, fetched when the result is drawn. */
function tagSlot(id, ctx) {
  const slot = h("div", { class: "tag-bars", "aria-busy": "true" }, h("h4", {}, "Tags"));
  ctx
    .trackInfo(id)
    .then((info) => {
      slot.removeAttribute("aria-busy");
      for (const [concept, tags] of Object.entries(info.tags)) {
        if (tags.length) slot.append(bar(`${concept}: ${tags[0].tag}`, barWidth(tags[0].score), percent(tags[0].score), { className: "tag" }));
      }
    })
    .catch(() => {
      slot.removeAttribute("aria-busy");
      slot.append(h("p", { class: "muted" }, "tags unavailable"));
    });
  return slot;
}

function matchNote(match) {
  return h(
    "p",
    { class: "match" },
    h("strong", {}, "Your clip is from this recording"),
    `, at ${formatDuration(match.offset)} (${match.aligned} fingerprint hashes agree).`,
  );
}

/** Where in the track the result points: a highlighted span on a strip as long as the
 * track, and a button that plays from its start. */
export function regionStrip(region, duration, audio) {
  const strip = h("span", { class: "region-track", "aria-hidden": "true" });
  const span = h("span", { class: "region-span" });
  const total = duration > 0 ? duration : region.end || 1;
  span.style.left = `${Math.min(100, (region.start / total) * 100)}%`;
  span.style.width = `${Math.max(1, Math.min(100, ((region.end - region.start) / total) * 100))}%`;
  strip.append(span);
  const label = `${formatDuration(region.start)}–${formatDuration(region.end)}`;
  return h(
    "div",
    { class: "region" },
    strip,
    h(
      "button",
      {
        type: "button",
        class: "small",
        onclick: () => {
          audio.currentTime = region.start;
          audio.play().catch(() => {});
        },
      },
      `Play from ${formatDuration(region.start)}`,
    ),
    h("span", { class: "muted" }, ` matching part ${label}`),
  );
}

/** An <audio> element for a track; says so in words when the server keeps no copy. */
export function audioPlayer(src, label) {
  const audio = h("audio", { controls: true, preload: "none", src, "aria-label": `Play ${label}` });
  const box = h("div", { class: "player" }, audio);
  audio.addEventListener("error", () => {
    box.replaceChildren(h("p", { class: "muted" }, "No audio kept for this track."));
  });
  return box;
}
