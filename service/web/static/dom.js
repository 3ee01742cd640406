// Building DOM nodes without a framework: h("a", { href: "#/" }, "text", child) returns an
// element. Attributes starting with "on" add listeners; "class" and "for" are the HTML
// names; false/null/undefined attributes and children are skipped. Text is always set as
// text (never parsed as HTML), so catalogue metadata cannot inject markup.

export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === false || value === null || value === undefined) continue;
    if (name.startsWith("on") && typeof value === "function") {
      el.addEventListener(name.slice(2).toLowerCase(), value);
    } else if (name === "dataset") {
      Object.assign(el.dataset, value);
    } else if (name in el && typeof value !== "string") {
      el[name] = value; // properties such as value, checked, disabled
    } else {
      el.setAttribute(name, value === true ? "" : String(value));
    }
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** Replace an element's children. */
export function replace(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

/** A horizontal bar for a value in [0, 1], with its label and number (read by screen
 * readers as "genre: 91 %"). */
export function bar(label, value, text, { className = "" } = {}) {
  const fill = h("span", { class: "bar-fill" });
  fill.style.width = `${value}%`;
  return h(
    "div",
    { class: `bar ${className}`.trim(), role: "img", "aria-label": `${label}: ${text}` },
    h("span", { class: "bar-label", "aria-hidden": "true" }, label),
    h("span", { class: "bar-track", "aria-hidden": "true" }, fill),
    h("span", { class: "bar-value", "aria-hidden": "true" }, text),
  );
}
