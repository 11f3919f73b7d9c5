/*
 * auth0-js v9, unchanged: WebAuth.client.login (password-realm), userInfo, delegation.
 * Each call resolves to {ok, result} or {ok: false, error} so the test reads refusals too
 * (which needs CORS headers on error answers).
 */
window.interop = (function () {
  "use strict";

  function call(method, target, args) {
    return new Promise(function (resolve) {
      method.apply(target, args.concat([function (err, result) {
        resolve(err ? { ok: false, error: err } : { ok: true, result: result });
      }]));
    });
  }

  function webAuth(config) {
    // A domain starting with "http" is used as the root URL as it is (no https:// prefix).
    return new auth0.WebAuth({
      domain: config.domain,
      clientID: config.clientId,
      responseType: "token id_token",
      redirectUri: window.location.origin + "/pages/callback.html",
    });
  }

  return {
    login: function (config, username, password) {
      var client = webAuth(config).client;
      return call(client.login, client, [{
        realm: config.realm,
        username: username,
        password: password,
        scope: "openid profile email",
      }]);
    },
    userInfo: function (config, accessToken) {
      var client = webAuth(config).client;
      return call(client.userInfo, client, [accessToken]);
    },
    delegation: function (config, idToken, target) {
      var client = webAuth(config).client;
      return call(client.delegation, client, [{
        id_token: idToken,
        grant_type: "urn:ietf:params:oauth:grant-type:jwt-bearer",
        target: target,
        scope: "openid name email",
        api_type: "app",
      }]);
    },
  };
})();
