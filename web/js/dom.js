// The page's small DOM helpers, shared by app.js and the views.

export const $ = (id) => document.getElementById(id);

export function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (k === 'class') node.className = v;
    else if (k === 'dataset') Object.assign(node.dataset, v);
    else if (k.startsWith('on')) node.addEventListener(k.slice(2), v);
    else if (k in node && typeof v !== 'string') node[k] = v;
    else node.setAttribute(k, v);
  }
  node.append(...children.filter((c) => c !== null && c !== undefined));
  return node;
}

export function show(id, visible = true) {
  $(id).hidden = !visible;
}

export function status(text) {
  $('status').textContent = text;
}

export function alertText(text) {
  $('alert').textContent = text;
  show('alert', Boolean(text));
}
