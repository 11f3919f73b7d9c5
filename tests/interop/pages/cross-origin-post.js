// Reads the target URL and the form values from the query string and submits the form.
(function () {
  "use strict";
  var params = new URLSearchParams(window.location.search);
  var form = document.getElementById("attack");
  form.action = params.get("action");
  ["csrfmiddlewaretoken", "email", "password"].forEach(function (name) {
    form.elements[name].value = params.get(name);
  });
  form.submit();
})();
