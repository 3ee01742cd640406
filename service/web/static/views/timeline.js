// Tags over time on the track page, shown when the server has
// GET /tracks/{track_id}/tags/timeline (features.js): {"windows": [{"start": s, "duration": d,
// "tags": {"jazz": p, ...}}, ...]}, one row per tag here (the 8 most probable over the track),
// one cell per window, darker = more probable; an answer of another shape is said so.

import { h } from "../dom.js";
import { formatDuration, percent } from "../format.js";

const ROWS = 8;

export function timelineSection(api, track) {
  const box = h("section", { class: "timeline", "aria-labelledby": "timeline-heading" }, h("h2", { id: "timeline-heading" }, "Tags over time"));
  api
    .tagTimeline(track.id)
    .then((data) => box.append(timelineTable(data)))
    .catch((err) => box.append(h("p", { class: "error" }, err.message)));
  return box;
}

export function timelineTable(data) {
  const windows = Array.isArray(data?.windows) ? data.windows : null;
  if (!windows) return h("p", { class: "muted" }, "This page does not understand the server's timeline.");
  if (!windows.length) return h("p", { class: "muted" }, "No timeline for this track.");
  const totals = {};
  for (const w of windows) for (const [tag, p] of Object.entries(w.tags || {})) totals[tag] = (totals[tag] || 0) + p;
  const tags = Object.keys(totals).sort((a, b) => totals[b] - totals[a]).slice(0, ROWS);
  return h(
    "table",
    { class: "heat" },
    h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "tag"), windows.map((w) => h("th", { scope: "col" }, formatDuration(w.start))))),
    h("tbody", {}, tags.map((tag) =>
      h("tr", {}, h("th", { scope: "row" }, tag), windows.map((w) => {
        const p = w.tags?.[tag] ?? 0;
        const cell = h("td", { title: `${tag} ${percent(p)} at ${formatDuration(w.start)}` }, percent(p));
        cell.style.setProperty("--p", String(p));
        return cell;
      })))),
  );
}
