/*
 * response_mode=web_message: hand the authorization response to the window that asked for it.
 * The page carries the response as JSON data (a <script type="application/json"> element) and
 * the client's registered origin in <body data-target-origin>. The message goes to that origin
 * only: postMessage never uses "*", so no other page that framed or opened us can read it.
 * Shape expected by auth0-spa-js and auth0-js: {type: "authorization_response", response}.
 */
(function () {
  "use strict";
  var data = document.getElementById("authorization-response");
  var targetOrigin = document.body.getAttribute("data-target-origin");
  if (!data || !targetOrigin || targetOrigin === "*") {
    return;
  }
  var message = { type: "authorization_response", response: JSON.parse(data.textContent) };
  var target = window.opener || (window.parent !== window ? window.parent : null);
  if (target) {
    target.postMessage(message, targetOrigin);
  }
})();
