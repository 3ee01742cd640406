// Client-side routes in the URL's fragment, so every view has a link and the server serves
// one page: #/ (search), #/track/42 (a track), #/add (add or delete tracks).

export function parseRoute(hash) {
  const path = (hash || "").replace(/^#/, "").split("?")[0] || "/";
  if (path === "/" || path === "") return { name: "search" };
  if (path === "/add") return { name: "add" };
  const track = /^\/track\/([1-9][0-9]{0,9})$/.exec(path);
  if (track) return { name: "track", id: Number(track[1]) };
  return { name: "notfound", path };
}

export const trackHref = (id) => `#/track/${Number(id)}`;
