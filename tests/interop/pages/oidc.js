/*
 * oidc-client-ts, unchanged: authorization code + PKCE (S256) with discovery, then userinfo
 * (loadUserInfo). The configuration is kept in sessionStorage across the redirects.
 */
window.interop = (function () {
  "use strict";
  var KEY = "interop-config";

  function manager() {
    var config = JSON.parse(window.sessionStorage.getItem(KEY));
    return new oidc.UserManager({
      authority: config.issuer,
      client_id: config.clientId,
      redirect_uri: window.location.origin + "/pages/oidc.html",
      response_type: "code",
      scope: "openid profile email",
      loadUserInfo: true,
      userStore: new oidc.WebStorageStateStore({ store: window.sessionStorage }),
    });
  }

  return {
    configure: function (config) {
      window.sessionStorage.setItem(KEY, JSON.stringify(config));
    },
    login: function () {
      return manager().signinRedirect();
    },
    callback: async function () {
      var user = await manager().signinRedirectCallback();
      return {
        profile: user.profile,
        id_token: user.id_token,
        access_token: user.access_token,
        scope: user.scope,
        token_type: user.token_type,
      };
    },
  };
})();
