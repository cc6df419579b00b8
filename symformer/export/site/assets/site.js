// Step-by-step reveal of each derivation on a symformer page: "Next step", "Show all", and the arrow keys.
// Without this script every step is visible; with it each chain starts at its first step.
(function () {
  "use strict";
  var chains = Array.prototype.slice.call(document.querySelectorAll(".chain"));
  var active = null;

  function steps(chain) { return chain.querySelectorAll(".step"); }

  function show(chain, count) {
    var all = steps(chain);
    var shown = Math.max(1, Math.min(all.length, count));
    for (var i = 0; i < all.length; i++) { all[i].hidden = i >= shown; }
    chain.setAttribute("data-shown", String(shown));
    chain.querySelector(".shown").textContent = "step " + shown + " of " + all.length;
    chain.querySelector(".next").disabled = shown === all.length;
    chain.querySelector(".all").disabled = shown === all.length;
    return all[shown - 1];
  }

  function shownCount(chain) { return Number(chain.getAttribute("data-shown")); }

  function activate(chain) {
    if (active) { active.classList.remove("active"); }
    active = chain;
    chain.classList.add("active");
  }

  function inView(element) {
    var box = element.getBoundingClientRect();
    return box.bottom > 0 && box.top < window.innerHeight;
  }

  // The arrow keys act on the chain last used, or else on the first chain on screen.
  function target() {
    if (active && inView(active)) { return active; }
    for (var i = 0; i < chains.length; i++) { if (inView(chains[i])) { return chains[i]; } }
    return null;
  }

  chains.forEach(function (chain) {
    var controls = chain.querySelector(".controls");
    if (steps(chain).length > 1) { controls.hidden = false; }
    show(chain, 1);
    chain.querySelector(".next").addEventListener("click", function () {
      activate(chain);
      show(chain, shownCount(chain) + 1);
    });
    chain.querySelector(".all").addEventListener("click", function () {
      activate(chain);
      show(chain, steps(chain).length);
    });
    chain.addEventListener("click", function () { activate(chain); });
  });

  document.addEventListener("keydown", function (event) {
    if (event.altKey || event.ctrlKey || event.metaKey || event.shiftKey) { return; }
    if (event.key !== "ArrowRight" && event.key !== "ArrowLeft") { return; }
    var chain = target();
    if (!chain) { return; }
    event.preventDefault();
    activate(chain);
    var step = show(chain, shownCount(chain) + (event.key === "ArrowRight" ? 1 : -1));
    step.scrollIntoView({ block: "nearest" });
  });
})();
