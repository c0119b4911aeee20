// Renders the LaTeX that pymdownx.arithmatex (generic mode) leaves in the pages, with the
// KaTeX copy served by the site itself (docs/assets/katex), so formulas render offline.
(function () {
  function render(root) {
    root.querySelectorAll(".arithmatex").forEach(function (element) {
      if (element.dataset.rendered) return;
      var text = element.textContent.trim();
      var display = element.tagName === "DIV" || text.startsWith("\\[") || text.startsWith("$$");
      var tex = text.replace(/^(\\\(|\\\[|\$\$)/, "").replace(/(\\\)|\\\]|\$\$)$/, "");
      katex.render(tex, element, { displayMode: display, throwOnError: false });
      element.dataset.rendered = "1";
    });
  }
  if (typeof document$ !== "undefined") {
    document$.subscribe(function () { render(document.body); });  // instant navigation
  } else {
    document.addEventListener("DOMContentLoaded", function () { render(document.body); });
  }
})();
