/* attnbook self-checks: grades the questions written with the {selfcheck} directive (book/_ext/attnbook_selfcheck.py).
   Runs offline: the answer is in the form's data attributes. A choice question is right when the checked radio's
   value equals data-answer; a number question when |value - answer| <= data-tolerance (plus rounding slack).
   The verdict goes into the form's live region, with the hint (wrong) or the explanation (right) revealed. */
(function () {
  "use strict";

  // "0.25", "-3", "1e-3", ".5", "1/8", "2^-3", with a typographic minus or spaces; NaN for anything else.
  function parseNumber(text) {
    var t = String(text).replace(/\u2212/g, "-").replace(/\s+/g, "");
    var num = "[-+]?(?:\\d+(?:\\.\\d*)?|\\.\\d+)(?:[eE][-+]?\\d+)?";
    if (new RegExp("^" + num + "$").test(t)) return Number(t);
    var frac = t.match(new RegExp("^(" + num + ")/(" + num + ")$"));
    if (frac) return Number(frac[1]) / Number(frac[2]);
    var pow = t.match(new RegExp("^(" + num + ")\\^\\(?(" + num + ")\\)?$"));
    if (pow) return Math.pow(Number(pow[1]), Number(pow[2]));
    return NaN;
  }

  function say(form, state, text) {
    var verdict = form.querySelector(".selfcheck-verdict");
    var hint = form.querySelector(".selfcheck-hint");
    var explain = form.querySelector(".selfcheck-explain");
    form.setAttribute("data-state", state);
    if (hint) hint.hidden = state !== "wrong";
    if (explain) explain.hidden = state !== "right";
    // Empty the region first, so a repeated verdict is announced again.
    verdict.textContent = "";
    window.setTimeout(function () {
      verdict.textContent = text;
    }, 50);
  }

  function grade(form) {
    var answer = form.getAttribute("data-answer");
    if (form.getAttribute("data-kind") === "choice") {
      var picked = form.querySelector('input[type="radio"]:checked');
      if (!picked) return say(form, "empty", "Choose one of the answers first.");
      return picked.value === answer
        ? say(form, "right", "Right.")
        : say(form, "wrong", "Not quite: choice " + picked.value + " is not the answer. Try again.");
    }
    var field = form.querySelector('input[type="text"]');
    var value = parseNumber(field.value);
    if (!isFinite(value)) {
      field.setAttribute("aria-invalid", "true");
      return say(form, "empty", "Type a number, for example 0.25, 1/8 or 2^-3.");
    }
    var target = Number(answer);
    var tol = Number(form.getAttribute("data-tolerance")) || 0;
    var right = Math.abs(value - target) <= tol + 1e-9 * Math.max(1, Math.abs(target));
    field.setAttribute("aria-invalid", right ? "false" : "true");
    if (right) return say(form, "right", "Right.");
    return say(form, "wrong", "Not quite: " + field.value.trim() + " is too " + (value > target ? "large" : "small") + ". Try again.");
  }

  function setup(form) {
    if (form.getAttribute("data-ready")) return;
    form.setAttribute("data-ready", "true");
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      grade(form);
    });
    // Maths in an option's label: MathJax makes each formula a Tab stop (for its menu), which would put stops
    // between the radio group and the Check button. The radio button carries the option's name (aria-label), so
    // the formulas inside labels are taken out of the Tab order whenever MathJax (re)renders them.
    var options = form.querySelector(".selfcheck-options");
    if (options) {
      var untab = function () {
        var maths = options.querySelectorAll("mjx-container[tabindex]");
        for (var k = 0; k < maths.length; k++) {
          if (maths[k].getAttribute("tabindex") !== "-1") maths[k].setAttribute("tabindex", "-1");
        }
      };
      new MutationObserver(untab).observe(options, {
        subtree: true, childList: true, attributes: true, attributeFilter: ["tabindex"]
      });
      untab();
    }
    // A new answer clears the old verdict's colours (the text stays until the next check).
    form.addEventListener("input", function () {
      if (form.getAttribute("data-state")) form.setAttribute("data-state", "changed");
    });
  }

  function setupAll() {
    var forms = document.querySelectorAll("form.attnbook-selfcheck");
    for (var i = 0; i < forms.length; i++) setup(forms[i]);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", setupAll);
  else setupAll();
  window.attnbookSelfcheck = { parseNumber: parseNumber, setupAll: setupAll };
})();
