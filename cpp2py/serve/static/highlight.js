/* A small Python syntax highlighter (cpp2py, Apache-2.0): one regex pass, HTML-escaped spans. */
(function (global) {
  "use strict";
  var KW = "False None True and as assert async await break class continue def del elif else except finally for " +
           "from global if import in is lambda nonlocal not or pass raise return try while with yield match case";
  var BI = "abs all any bin bool bytes chr dict divmod enumerate filter float format frozenset getattr hasattr hash " +
           "hex input int isinstance iter len list map max min next object oct open ord pow print range repr " +
           "reversed round set setattr sorted str sum super tuple type zip self";
  var kw = new Set(KW.split(" ")), bi = new Set(BI.split(" "));
  var TOKEN = new RegExp([
    "(#[^\\n]*)",                                                           // 1 comment
    "((?:[rRbBuUfF]{0,2})(?:'''[\\s\\S]*?(?:'''|$)|\"\"\"[\\s\\S]*?(?:\"\"\"|$)|'(?:\\\\.|[^'\\\\\\n])*'?|\"(?:\\\\.|[^\"\\\\\\n])*\"?))", // 2 string
    "(@[A-Za-z_][\\w.]*)",                                                  // 3 decorator
    "(\\b(?:0[xX][0-9a-fA-F_]+|0[bB][01_]+|0[oO][0-7_]+|\\d[\\d_]*\\.?\\d*(?:[eE][+-]?\\d+)?j?|\\.\\d+(?:[eE][+-]?\\d+)?j?)\\b)", // 4 number
    "([A-Za-z_]\\w*)"                                                       // 5 name
  ].join("|"), "g");
  function esc(s) { return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;"); }
  function span(cls, s) { return '<span class="tok-' + cls + '">' + esc(s) + "</span>"; }
  function highlightPython(src) {
    var out = "", last = 0, m, prevWord = "";
    TOKEN.lastIndex = 0;
    while ((m = TOKEN.exec(src)) !== null) {
      if (m[0] === "") { TOKEN.lastIndex++; continue; }
      out += esc(src.slice(last, m.index));
      if (m[1]) out += span("com", m[1]);
      else if (m[2]) out += span("str", m[2]);
      else if (m[3]) out += span("dec", m[3]);
      else if (m[4]) out += span("num", m[4]);
      else {
        var w = m[5];
        if (prevWord === "def" || prevWord === "class") out += span("def", w);
        else if (kw.has(w)) out += span("kw", w);
        else if (bi.has(w)) out += span("bi", w);
        else out += esc(w);
        prevWord = w;
      }
      if (!m[5]) prevWord = "";
      last = TOKEN.lastIndex;
    }
    return out + esc(src.slice(last));
  }
  global.highlightPython = highlightPython;
})(window);
