"""Markup compared across the server and the script (docs/pages.md, "defined once")."""

MARKUP = """el => {
  const out = (n) => n.nodeType === Node.TEXT_NODE ? n.nodeValue
    : n.nodeType !== Node.ELEMENT_NODE || n.hasAttribute('data-added') ? ''
    : `<${n.localName}${[...n.attributes].map((a) => [a.name, a.name === 'class'
      ? a.value.split(' ').filter((c) => c && c !== 'fresh').join(' ') : a.value]).sort()
      .map(([k, v]) => ` ${k}="${v}"`).join('')}>${[...n.childNodes].map(out).join('')}</${n.localName}>`;
  return out(el);
}"""
"""An element's outerHTML, normalised: its attributes in order of name, without the class that
marks an answer just arrived (``fresh``, an animation), nor what a script adds to an item where
the browser can (``data-added``: the 朗读 button, static/js/speak.js)."""
