/*
 * Progressive enhancement for the admin pages (served from 'self': CSP script-src 'self').
 * Without this file every page works: tabs are sections with headings, the reveal button
 * posts a form, Allowed APPs / APIs takes names typed or ticked, and the server focuses the
 * first field with an error. With it:
 *   - [data-tabs] containers become ARIA tabs (WAI-ARIA Authoring Practices "Tabs":
 *     arrows, Home and End move between tabs; the tab holding the first error opens first);
 *   - copy buttons copy to the clipboard; "Reveal client secret" shows it in place;
 *   - JWT expiration shows its duration live; the fields follow the application type;
 *   - typing a name in "Add by name" ticks that application; "try it" suggests users;
 *   - switching on an add-on that is not configured yet opens its configuration.
 */
(function () {
  "use strict";

  function liveRegion() {
    var region = document.getElementById("ta-live");
    if (!region) {
      region = document.createElement("div");
      region.id = "ta-live";
      region.className = "visually-hidden";
      region.setAttribute("role", "status");
      region.setAttribute("aria-live", "polite");
      document.body.appendChild(region);
    }
    return region;
  }

  function announce(text) {
    var region = liveRegion();
    region.textContent = "";
    window.setTimeout(function () { region.textContent = text; }, 50);
  }

  /* --- tabs ------------------------------------------------------------------------------ */
  function directPanels(container) {
    return Array.prototype.filter.call(container.children, function (child) {
      return child.classList.contains("ta-tab-panel");
    });
  }

  function setupTabs(container) {
    var panels = directPanels(container);
    if (panels.length < 2) { return; }
    var tablist = document.createElement("div");
    tablist.setAttribute("role", "tablist");
    tablist.className = "ta-tablist";
    tablist.setAttribute("aria-label", container.getAttribute("data-tabs-label") || "Sections");
    var tabs = panels.map(function (panel) {
      var heading = panel.querySelector(".ta-tab-heading");
      var tab = document.createElement("button");
      tab.type = "button";
      tab.id = panel.id + "-tab";
      tab.className = "ta-tab";
      tab.setAttribute("role", "tab");
      tab.setAttribute("aria-controls", panel.id);
      tab.textContent = heading ? heading.textContent.trim() : panel.id;
      if (panel.querySelector(".errorlist, [aria-invalid='true']")) {
        var dot = document.createElement("span");
        dot.className = "ta-tab-error";
        dot.setAttribute("aria-hidden", "true");  // the tab's name stays its heading
        dot.textContent = " \u2022";
        tab.appendChild(dot);
        tab.setAttribute("aria-description", "contains errors");
      }
      if (heading) { heading.hidden = true; }
      panel.setAttribute("role", "tabpanel");
      panel.setAttribute("aria-labelledby", tab.id);
      tablist.appendChild(tab);
      return tab;
    });
    container.insertBefore(tablist, panels[0]);
    container.classList.add("ta-tabs-ready");

    function select(index, focus) {
      tabs.forEach(function (tab, i) {
        var chosen = i === index;
        tab.setAttribute("aria-selected", chosen ? "true" : "false");
        tab.tabIndex = chosen ? 0 : -1;
        panels[i].hidden = !chosen;
      });
      if (focus) { tabs[index].focus(); }
    }

    tablist.addEventListener("click", function (event) {
      var index = tabs.indexOf(event.target.closest("[role=tab]"));
      if (index >= 0) { select(index, true); }
    });
    tablist.addEventListener("keydown", function (event) {
      var index = tabs.indexOf(document.activeElement);
      if (index < 0) { return; }
      var next = { ArrowRight: index + 1, ArrowLeft: index - 1, Home: 0, End: tabs.length - 1 }[event.key];
      if (next === undefined) { return; }
      event.preventDefault();
      next = (next + tabs.length) % tabs.length;
      select(next, true);
    });
    container.taSelect = function (panel) {
      var index = panels.indexOf(panel);
      if (index >= 0) { select(index, false); }
    };
    select(0, false);
  }

  /* Open every tab and <details> between the page and ``element`` (nested ones included). */
  function reveal(element) {
    var node = element;
    while (node && node !== document.body) {
      if (node.classList && node.classList.contains("ta-tab-panel")) {
        var container = node.parentElement;
        if (container && container.taSelect) { container.taSelect(node); }
      }
      if (node.tagName === "DETAILS" && node !== element) { node.open = true; }
      node = node.parentElement;
    }
  }

  var CONTROLS = "input:not([type=hidden]):not([disabled]), select:not([disabled]), textarea:not([disabled])";

  /* The field to focus for the first error: the invalid field itself; for an error list, the
     invalid field of its row, else of its card or form (a form-wide error), else its first
     control. */
  function fieldFor(invalid) {
    if (invalid.matches("[aria-invalid='true']")) { return invalid; }
    var scope = invalid.closest(".form-row") || invalid.closest("details, form") || document;
    return scope.querySelector("[aria-invalid='true']") || scope.querySelector(CONTROLS);
  }

  function initialTab() {
    var invalid = document.querySelector("[aria-invalid='true'], .errorlist");
    if (invalid) {
      reveal(invalid);
      var field = fieldFor(invalid);
      if (field) {
        reveal(field);
        field.focus();
        // Scrolling to a URL fragment (#tab-...) after load takes the focus away again.
        var refocus = function () {
          window.setTimeout(function () {
            if (document.activeElement === document.body) { field.focus(); }
          }, 0);
        };
        if (document.readyState === "complete") { refocus(); } else { window.addEventListener("load", refocus); }
      }
      return;
    }
    if (window.location.hash.length > 1) {
      var target = document.getElementById(window.location.hash.slice(1));
      if (target) {
        reveal(target);
        target.scrollIntoView();  // it was hidden in a closed tab when the browser scrolled
      }
    }
  }

  /* --- copy buttons ------------------------------------------------------------------------ */
  function textOf(element) {
    return "value" in element && element.tagName !== "BUTTON" ? element.value : element.textContent.trim();
  }

  function setupCopy(button) {
    var source = document.getElementById(button.getAttribute("data-copy-target"));
    if (!source) { return; }
    if (button.id !== "copy-secret") { button.hidden = false; }
    var label = button.textContent;
    button.addEventListener("click", function () {
      var text = textOf(source);
      var done = function () {
        button.textContent = "Copied";
        announce("Copied to the clipboard");
        window.setTimeout(function () { button.textContent = label; }, 2000);
      };
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(text).then(done, function () { announce("Copying failed"); });
      } else {
        var range = document.createRange();
        range.selectNodeContents(source);
        var selection = window.getSelection();
        selection.removeAllRanges();
        selection.addRange(range);
        announce("Selected: press Ctrl+C to copy");
      }
    });
  }

  /* --- reveal the client secret in place ---------------------------------------------------- */
  function setupReveal() {
    var button = document.getElementById("reveal-secret");
    var form = document.getElementById("reveal-secret-form");
    var value = document.getElementById("client-secret-value");
    var copy = document.getElementById("copy-secret");
    if (!button || !form || !value) { return; }
    var mask = value.textContent;
    var shown = false;
    button.setAttribute("aria-expanded", "false");
    button.addEventListener("click", function (event) {
      event.preventDefault();
      if (shown) {
        value.textContent = mask;
        value.classList.add("secret-mask");
        value.setAttribute("aria-label", "Client secret, hidden");
        button.textContent = "Reveal client secret";
        button.setAttribute("aria-expanded", "false");
        if (copy) { copy.hidden = true; }
        shown = false;
        return;
      }
      var token = form.querySelector("input[name=csrfmiddlewaretoken]").value;
      fetch(form.action, {
        method: "POST",
        credentials: "same-origin",
        headers: { "Accept": "application/json", "X-CSRFToken": token },
      }).then(function (response) {
        if (!response.ok) { throw new Error(String(response.status)); }
        return response.json();
      }).then(function (data) {
        value.textContent = data.client_secret;
        value.classList.remove("secret-mask");
        value.removeAttribute("aria-label");
        button.textContent = "Hide client secret";
        button.setAttribute("aria-expanded", "true");
        if (copy) { copy.hidden = false; }
        shown = true;
        announce("Client secret shown");
      }).catch(function () {
        form.submit();  // the page without script: a server-rendered reveal
      });
    });
  }

  /* --- JWT expiration as a duration --------------------------------------------------------- */
  function humanize(seconds) {
    var units = [["day", 86400], ["hour", 3600], ["minute", 60], ["second", 1]];
    var parts = [];
    units.forEach(function (unit) {
      var count = Math.floor(seconds / unit[1]);
      seconds -= count * unit[1];
      if (count) { parts.push(count + " " + unit[0] + (count === 1 ? "" : "s")); }
    });
    return parts.slice(0, 2).join(" ") || "0 seconds";
  }

  function setupDuration(output) {
    var input = document.getElementById(output.getAttribute("data-duration-for"));
    var warning = document.getElementById(input.id + "_warning");
    input.addEventListener("input", function () {
      var seconds = parseInt(input.value, 10);
      output.textContent = seconds > 0 ? "= " + humanize(seconds) : "";
      if (warning) { warning.hidden = !(seconds > 3600); }
    });
  }

  /* --- fields that follow the application type ---------------------------------------------- */
  function setupTypeRules() {
    var type = document.getElementById("id_app_type");
    if (!type) { return; }
    var algorithm = document.getElementById("id_jwt_signature_algorithm");
    var apiOnlyHidden = ["callback_urls_text", "allowed_logout_urls_text"];
    function apply() {
      var isApi = type.value === "resource_server";
      apiOnlyHidden.forEach(function (name) {
        var row = document.querySelector(".form-row.field-" + name);
        var field = document.getElementById("id_" + name);
        if (row && field) {
          row.hidden = isApi;
          field.disabled = isApi;
        }
      });
      if (algorithm) {
        var isPublic = type.value === "spa" || type.value === "native";
        var hs = algorithm.querySelector("option[value=HS256]");
        if (hs) {
          hs.disabled = isPublic;
          if (isPublic && algorithm.value === "HS256") {
            algorithm.value = "RS256";
            announce("A public client signs with RS256: the signature algorithm is now RS256.");
          }
        }
      }
    }
    type.addEventListener("change", apply);
    apply();
  }

  /* --- Allowed APPs / APIs: a name typed ticks its application ------------------------------ */
  function setupAllowedClients() {
    var input = document.getElementById("id_allowed_clients_add");
    if (!input || !input.list) { return; }
    var status = document.createElement("p");
    status.className = "help";
    status.id = "allowed-clients-status";
    status.setAttribute("role", "status");
    input.parentNode.appendChild(status);
    function apply() {
      var options = Array.prototype.slice.call(input.list.options);
      var left = [];
      var ticked = [];
      input.value.split(",").forEach(function (raw) {
        var entry = raw.trim();
        if (!entry) { return; }
        var folded = entry.toLowerCase();
        var match = options.filter(function (o) { return o.value === entry || o.label === entry; })[0] ||
          options.filter(function (o) { return o.label.toLowerCase() === folded; })[0];
        var box = match && document.querySelector(
          "input[name=allowed_clients_picked][value='" + match.value.replace(/'/g, "") + "']");
        if (box) {
          box.checked = true;
          ticked.push(match.label);
        } else {
          left.push(entry);
        }
      });
      input.value = left.join(", ");
      if (ticked.length) { status.textContent = "Ticked: " + ticked.join(", ") + "."; }
      if (left.length) { status.textContent += " Not found: " + left.join(", ") + "."; }
    }
    input.addEventListener("change", apply);
    input.addEventListener("keydown", function (event) {
      if (event.key === "Enter") {
        event.preventDefault();  // Enter adds the name instead of submitting the whole form
        apply();
      }
    });
  }

  /* --- try it: user suggestions ------------------------------------------------------------- */
  function setupUserSuggestions() {
    var form = document.getElementById("try-it-form");
    var input = document.getElementById("id_user");
    var list = document.getElementById("id_user_options");
    if (!form || !input || !list || !form.getAttribute("data-users-url")) { return; }
    input.setAttribute("list", list.id);
    var timer = null;
    input.addEventListener("input", function () {
      window.clearTimeout(timer);
      var query = input.value.trim();
      if (!query) { return; }
      timer = window.setTimeout(function () {
        var url = form.getAttribute("data-users-url") + "?q=" + encodeURIComponent(query);
        fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
          .then(function (response) { return response.ok ? response.json() : { results: [] }; })
          .then(function (data) {
            list.textContent = "";
            data.results.forEach(function (user) {
              var option = document.createElement("option");
              option.value = user.email;
              option.label = user.user_id + (user.name ? " (" + user.name + ")" : "");
              list.appendChild(option);
            });
          });
      }, 200);
    });
    var result = document.getElementById("try-it-result");
    if (result && !document.querySelector("[aria-invalid='true']")) { result.focus(); }
  }

  /* --- add-on cards: switching on one not configured yet opens its configuration ---------- */
  function setupAddonCard(card) {
    var toggle = card.querySelector("input[role=switch]");
    var details = card.querySelector("details");
    if (!toggle || !details) { return; }
    toggle.addEventListener("change", function () {
      if (toggle.checked && card.getAttribute("data-configured") === "false" && !details.open) {
        details.open = true;
        announce("Fill in the configuration, then save.");
      }
    });
  }

  function init() {
    Array.prototype.forEach.call(document.querySelectorAll("[data-tabs]"), setupTabs);
    Array.prototype.forEach.call(document.querySelectorAll("[data-copy-target]"), setupCopy);
    Array.prototype.forEach.call(document.querySelectorAll("[data-duration-for]"), setupDuration);
    setupReveal();
    setupTypeRules();
    setupAllowedClients();
    setupUserSuggestions();
    Array.prototype.forEach.call(document.querySelectorAll(".ta-addon"), setupAddonCard);
    initialTab();
    window.addEventListener("hashchange", function () {
      var target = window.location.hash.length > 1 && document.getElementById(window.location.hash.slice(1));
      if (target) { reveal(target); }
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
}());
