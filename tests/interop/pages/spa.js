/*
 * @auth0/auth0-spa-js, unchanged. The configuration (domain, clientId) is kept in
 * sessionStorage by configure(), so the page can rebuild the client after the redirects.
 * "domain" is a full http:// URL (http://localhost:<port>/t/<slug>): the SDK then uses it
 * as it is instead of prefixing https://, and expects the issuer "<domain>/".
 */
window.interop = (function () {
  "use strict";
  var KEY = "interop-config";
  var clientPromise = null;

  function client() {
    if (!clientPromise) {
      var config = JSON.parse(window.sessionStorage.getItem(KEY));
      clientPromise = auth0.createAuth0Client({
        domain: config.domain,
        clientId: config.clientId,
        cacheLocation: "memory",
        authorizationParams: {
          redirect_uri: window.location.origin + "/pages/spa.html",
          scope: "openid profile email",
        },
      });
    }
    return clientPromise;
  }

  function failure(e, started) {
    return {
      ok: false,
      ms: performance.now() - started,
      error: e.error || e.message || String(e),
      description: e.error_description || "",
    };
  }

  return {
    configure: function (config) {
      window.sessionStorage.setItem(KEY, JSON.stringify(config));
    },
    login: async function () {
      await (await client()).loginWithRedirect({ appState: { back: "/pages/spa.html" } });
    },
    callback: async function () {
      var a0 = await client();
      var result = await a0.handleRedirectCallback();
      return {
        appState: result.appState || null,
        user: await a0.getUser(),
        claims: await a0.getIdTokenClaims(),
        authenticated: await a0.isAuthenticated(),
      };
    },
    silent: async function () {
      var started = performance.now();
      try {
        var a0 = await client();
        // cacheMode off: ask the server (hidden iframe, prompt=none, web_message).
        var answer = await a0.getTokenSilently({
          cacheMode: "off",
          detailedResponse: true,
          timeoutInSeconds: 20,
        });
        return {
          ok: true,
          ms: performance.now() - started,
          id_token: answer.id_token,
          access_token: answer.access_token,
        };
      } catch (e) {
        return failure(e, started);
      }
    },
    logout: async function (returnTo) {
      await (await client()).logout({ logoutParams: { returnTo: returnTo } });
    },
  };
})();
