// How numbers read on the page.

/** 75.4 -> "1:15"; 3725 -> "1:02:05". */
export function formatDuration(seconds) {
  if (!Number.isFinite(seconds) || seconds < 0) return "–";
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, "0");
  return h ? `${h}:${String(m).padStart(2, "0")}:${ss}` : `${m}:${ss}`;
}

/** A probability or cosine in [0, 1] as a whole percentage ("83 %"); clipped to 0-100. */
export function percent(x) {
  if (!Number.isFinite(x)) return "–";
  return `${Math.round(Math.min(1, Math.max(0, x)) * 100)} %`;
}

/** A bar's width in percent for a value in [0, 1] (negative cosines draw as empty). */
export function barWidth(x) {
  return Number.isFinite(x) ? Math.min(100, Math.max(0, x * 100)) : 0;
}

/** A score with three decimals ("0.982"). */
export function formatScore(x) {
  return Number.isFinite(x) ? x.toFixed(3) : "–";
}

/** "Title — Artist", with stand-ins for missing metadata. */
export function trackLabel(track) {
  const title = track.title || `Track ${track.id}`;
  return track.artist ? `${title} — ${track.artist}` : title;
}

/** The n most probable tags of a track, over every concept: [{tag, concept, score}]. */
export function topTags(tagsByConcept, n = 5) {
  const all = [];
  for (const [concept, tags] of Object.entries(tagsByConcept || {})) {
    for (const { tag, score } of tags) all.push({ tag, concept, score });
  }
  return all.sort((a, b) => b.score - a.score).slice(0, n);
}
