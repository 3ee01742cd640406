// Facet weights: the sliders' values (0-100 each) <-> the API's facet parameter
// ("mood:0.7,genre:0.3"). The API normalises weights to sum to 1; so do the labels here.

/** Every facet at the same weight: the API's default (the full space). */
export function equalWeights(names, value = 100) {
  return Object.fromEntries(names.map((name) => [name, value]));
}

/** Weights scaled to sum to 1 (all zero: all zero). */
export function normalise(weights) {
  const total = Object.values(weights).reduce((sum, w) => sum + Math.max(0, w), 0);
  return Object.fromEntries(
    Object.entries(weights).map(([name, w]) => [name, total > 0 ? Math.max(0, w) / total : 0]),
  );
}

/**
 * The facet parameter for slider values, or null for the API's default mix: every facet at
 * the same weight, or every weight zero (nothing to rank by; the page says so). Facets at
 * zero are left out; shares are rounded to 2 decimals and keep the sliders' order.
 */
export function formatFacet(weights) {
  const entries = Object.entries(weights).filter(([, w]) => w > 0);
  if (entries.length === 0) return null;
  const all = Object.keys(weights).length;
  if (entries.length === all && entries.every(([, w]) => w === entries[0][1])) return null;
  const shares = normalise(Object.fromEntries(entries));
  return entries.map(([name]) => `${name}:${round2(shares[name])}`).join(",");
}

/** The slider values a facet parameter stands for (0-100), for facets in `names`. */
export function parseFacet(spec, names) {
  if (!spec) return equalWeights(names);
  const weights = equalWeights(names, 0);
  for (const part of spec.split(",")) {
    const [name, value] = part.split(":");
    if (!(name in weights)) throw new Error(`unknown facet '${name}'`);
    const w = value === undefined ? 1 : Number(value);
    if (!Number.isFinite(w) || w < 0) throw new Error(`bad weight for '${name}': '${value}'`);
    weights[name] = w;
  }
  const shares = normalise(weights);
  return Object.fromEntries(names.map((name) => [name, Math.round(shares[name] * 100)]));
}

/** "mood 70 %, genre 30 %": how the weights read to a person (facets at zero left out). */
export function describeWeights(weights) {
  const shares = normalise(weights);
  const parts = Object.entries(shares)
    .filter(([, s]) => s > 0)
    .map(([name, s]) => `${name} ${Math.round(s * 100)} %`);
  return parts.length ? parts.join(", ") : "no facet";
}

function round2(x) {
  return Math.round(x * 100) / 100;
}
