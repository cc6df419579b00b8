// Typeset a batch of formulas with KaTeX's renderToString, for symformer's site.
// stdin: {"katex": "<folder holding dist/>", "formulas": [[tex, display], ...]}
// stdout: [{"html": "..."} or {"error": "..."}, ...], one per formula, in order.
"use strict";
const path = require("path");

let input = "";
process.stdin.setEncoding("utf8");
process.stdin.on("data", (chunk) => { input += chunk; });
process.stdin.on("end", () => {
  const request = JSON.parse(input);
  const katex = require(path.join(request.katex, "dist", "katex.js"));
  const results = request.formulas.map(([tex, display]) => {
    try {
      // throwOnError: a formula KaTeX cannot read must fail the build, not show red source on the page
      return { html: katex.renderToString(tex, { displayMode: display, throwOnError: true, strict: "ignore", output: "htmlAndMathml" }) };
    } catch (error) {
      // rawMessage and position, not message: its underlined excerpt is unreadable on a terminal
      if (error && error.rawMessage) {
        return { error: error.rawMessage + (error.position !== undefined ? " at position " + (error.position + 1) : "") };
      }
      return { error: String(error && error.message ? error.message : error) };
    }
  });
  process.stdout.write(JSON.stringify({ version: katex.version, results }));
});
