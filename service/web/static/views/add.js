// Add tracks (#/add): the API key, kept in the page's memory only, and uploads.

import { h, replace } from "../dom.js";
import { trackLabel } from "../format.js";
import { trackHref } from "../router.js";

export function addView(ctx) {
  const { store, api } = ctx;
  const keyInput = h("input", { type: "password", id: "api-key", autocomplete: "off", spellcheck: "false" });
  const keyState = h("p", { class: "muted", role: "status" });
  const uploads = h("ul", { class: "uploads", "aria-live": "polite" });

  function drawKey() {
    const set = Boolean(store.get().apiKey);
    keyState.textContent = set
      ? "A key is set for this page. It is forgotten when you reload or close it."
      : "No key set: searching works, adding and deleting tracks need the key.";
    forget.disabled = !set;
  }
  const forget = h("button", { type: "button", onclick: () => { store.set({ apiKey: null }); drawKey(); } }, "Forget the key");

  const keyForm = h(
    "form",
    {
      class: "card",
      id: "key-form",
      onsubmit: (e) => {
        e.preventDefault();
        store.set({ apiKey: keyInput.value.trim() || null });
        keyInput.value = "";
        drawKey();
      },
    },
    h("h2", {}, "API key"),
    h("p", { class: "muted" }, "Sent as X-API-Key with each write; never saved by the browser."),
    h("label", { for: "api-key" }, "Key"),
    keyInput,
    h("div", { class: "row" }, h("button", { type: "submit" }, "Use this key"), forget),
    keyState,
  );

  const file = h("input", { type: "file", id: "upload-file", accept: "audio/*", required: true });
  const fields = ["title", "artist", "album"].map((name) => [name, h("input", { type: "text", id: `upload-${name}`, maxlength: "500" })]);
  const uploadForm = h(
    "form",
    {
      class: "card",
      id: "upload-form",
      onsubmit: async (e) => {
        e.preventDefault();
        const f = file.files[0];
        if (!f) return;
        const meta = Object.fromEntries(fields.map(([name, input]) => [name, input.value.trim()]));
        const item = h("li", {}, `Uploading ${f.name}…`);
        uploads.prepend(item);
        try {
          const { created, track } = await api.uploadTrack(f, meta);
          ctx.rememberTrack(track);
          replace(item, created ? "Added " : "Already in the catalogue: ", h("a", { href: trackHref(track.id) }, trackLabel(track)));
          uploadForm.reset();
        } catch (err) {
          item.classList.add("error");
          replace(item, `${f.name}: ${err.message}`);
        }
      },
    },
    h("h2", {}, "Add a track"),
    h("label", { for: "upload-file" }, "Audio file"),
    file,
    fields.map(([name, input]) => [h("label", { for: input.id }, name[0].toUpperCase() + name.slice(1)), input]),
    h("button", { type: "submit" }, "Upload"),
    uploads,
  );

  drawKey();
  const el = h(
    "div",
    { class: "add-view" },
    h("h1", { tabindex: "-1" }, "Add or delete tracks"),
    h("p", {}, "Deleting is on each track's page once a key is set."),
    h("div", { class: "columns" }, keyForm, uploadForm),
  );
  return { el, destroy() {} };
}
