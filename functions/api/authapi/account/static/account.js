// The account page: sign-in (password, then TOTP, a recovery code or a passkey; or a
// passkey alone), first-time TOTP enrollment (with a passkey offered beside it), and the
// signed-in user's profile and passkeys. Plain JavaScript, no framework; passkeys use the
// browser's WebAuthn API with its JSON forms (parse...FromJSON, toJSON).
//
// Security: tokens are kept in this closure's memory only (never in web storage or
// cookies), so reloading the page signs the user out. Every text from the server is
// inserted with textContent; the QR code (SVG) is shown through an <img> data: URL, where
// an SVG can never run script.
(function () {
  "use strict";

  // ---- state (memory only) ----------------------------------------------------------
  var session = null; // {access_token, refresh_token} once signed in
  var mfaToken = null; // the short-lived token between the two sign-in steps
  var mfaMode = "totp"; // "totp" or "recovery"
  var username = "";
  var busy = false;
  // The password typed at a first sign-in, kept only until TOTP is confirmed: adding the
  // passkey offered beside the QR code asks for it again (POST users/me/passkeys/options).
  var pendingPassword = null;

  var VIEWS = ["login-view", "mfa-view", "setup-view", "codes-view", "profile-view"];

  function $(id) {
    return document.getElementById(id);
  }

  // ---- messages -----------------------------------------------------------------------
  function clearMessages() {
    $("error").hidden = true;
    $("error").textContent = "";
    $("notice").hidden = true;
    $("notice").textContent = "";
  }

  function showError(text) {
    $("notice").hidden = true;
    $("error").textContent = text;
    $("error").hidden = false;
  }

  function showNotice(text) {
    $("error").hidden = true;
    $("notice").textContent = text;
    $("notice").hidden = false;
  }

  function show(viewId, focusId) {
    VIEWS.forEach(function (id) {
      $(id).hidden = id !== viewId;
    });
    var target = focusId ? $(focusId) : null;
    if (target) {
      target.focus();
    }
  }

  function waitText(seconds) {
    var n = parseInt(seconds, 10);
    if (!isFinite(n) || n <= 0) {
      return "a little while";
    }
    if (n < 90) {
      return n === 1 ? "1 second" : n + " seconds";
    }
    var minutes = Math.ceil(n / 60);
    return minutes + " minutes";
  }

  // A readable sentence for an API error; never the raw body.
  function describe(error, context) {
    var overrides = (context && context.messages) || {};
    if (overrides[error.code]) {
      return overrides[error.code];
    }
    switch (error.code) {
      case "INVALID_CREDENTIALS":
        return "That did not work: the username, password or code is wrong. Check them and try again.";
      case "TOO_MANY_ATTEMPTS":
        return "Too many failed attempts. Wait " + waitText(error.retryAfter) + " and try again.";
      case "NOT_AUTHENTICATED":
        return "Your session has ended. Please sign in again.";
      case "VALIDATION_ERROR":
        return error.detail ? "Please check your input: " + error.detail : "Please check your input.";
      case "EMAIL_TAKEN":
        return "That email address is already used by another account.";
      case "USERNAME_TAKEN":
        return "That username is already taken.";
      case "CONFLICT":
        return "Your account was changed at the same time somewhere else. Please try again.";
      case "PAYLOAD_TOO_LARGE":
        return "What you entered is too long.";
      case "SERVICE_UNAVAILABLE":
        return "The service is busy or temporarily unavailable. Try again in " +
          waitText(error.retryAfter) + ".";
      case "NETWORK":
        return "Could not reach the server. Check your connection and try again.";
      case "PASSKEY_CANCELLED":
        return "The passkey was not used: the request was cancelled or timed out. Try again.";
      case "PASSKEY_UNSUPPORTED":
        return "This browser cannot use passkeys here.";
      case "PASSKEY_NOT_FOUND":
        return "That passkey is already gone.";
      default:
        return "Something went wrong" + (error.status ? " (HTTP " + error.status + ")" : "") +
          ". Please try again later.";
    }
  }

  // ---- HTTP ---------------------------------------------------------------------------
  function ApiError(status, code, detail, retryAfter) {
    this.status = status;
    this.code = code;
    this.detail = detail;
    this.retryAfter = retryAfter;
  }

  // Relative URLs only: the page works at the API Gateway URL and locally alike.
  function request(method, path, body, token) {
    var headers = { Accept: "application/json" };
    if (body !== undefined) {
      headers["Content-Type"] = "application/json";
    }
    if (token) {
      headers.Authorization = "Bearer " + token;
    }
    return fetch(path, {
      method: method,
      headers: headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: "omit",
      cache: "no-store",
      redirect: "error",
      referrerPolicy: "no-referrer",
    }).then(
      function (response) {
        if (response.status === 204) {
          return null;
        }
        return response.text().then(function (text) {
          var data = null;
          try {
            data = text ? JSON.parse(text) : null;
          } catch (ignored) {
            data = null;
          }
          if (response.ok) {
            return data;
          }
          var code = data && typeof data.code === "string" ? data.code : "HTTP_" + response.status;
          var detail = data && typeof data.detail === "string" ? data.detail : "";
          throw new ApiError(response.status, code, detail, response.headers.get("Retry-After"));
        });
      },
      function () {
        throw new ApiError(0, "NETWORK", "", null);
      }
    );
  }

  // An authenticated call; an expired access token is refreshed once, transparently.
  // `makeBody` (optional) builds the JSON body for each attempt.
  function authed(method, path, makeBody) {
    var body = function () {
      return typeof makeBody === "function" ? makeBody() : makeBody;
    };
    if (!session) {
      return Promise.reject(new ApiError(401, "NOT_AUTHENTICATED", "", null));
    }
    return request(method, path, body(), session.access_token).catch(function (error) {
      if (!(error instanceof ApiError) || error.code !== "NOT_AUTHENTICATED" || !session) {
        throw error;
      }
      return request("POST", "auth/refresh", { refresh_token: session.refresh_token }).then(
        function (tokens) {
          keepTokens(tokens);
          return request(method, path, body(), session.access_token);
        }
      );
    });
  }

  function keepTokens(tokens) {
    session = { access_token: tokens.access_token, refresh_token: tokens.refresh_token };
  }

  function forget() {
    session = null;
    mfaToken = null;
    pendingPassword = null;
  }

  // ---- passkeys (WebAuthn) ------------------------------------------------------------
  // Passkeys need the browser's WebAuthn JSON API and a page address that can be a
  // relying party: a domain name (plain-HTTP localhost counts as secure), never an IP address.
  function passkeysAvailable() {
    var host = location.hostname;
    return (
      window.isSecureContext &&
      !/^[0-9.]+$/.test(host) &&
      host.indexOf(":") < 0 &&
      host.charAt(0) !== "[" &&
      typeof window.PublicKeyCredential === "function" &&
      typeof PublicKeyCredential.parseCreationOptionsFromJSON === "function" &&
      typeof PublicKeyCredential.parseRequestOptionsFromJSON === "function" &&
      !!navigator.credentials
    );
  }

  // The browser's answer as the JSON the API takes; a refusal or cancellation of the
  // browser (a DOMException) becomes a readable error.
  function ceremony(promise) {
    return promise.then(
      function (credential) {
        if (!credential) {
          throw new ApiError(0, "PASSKEY_CANCELLED", "", null);
        }
        return credential.toJSON();
      },
      function () {
        throw new ApiError(0, "PASSKEY_CANCELLED", "", null);
      }
    );
  }

  function createPasskey(publicKey) {
    if (!passkeysAvailable()) {
      return Promise.reject(new ApiError(0, "PASSKEY_UNSUPPORTED", "", null));
    }
    var options = PublicKeyCredential.parseCreationOptionsFromJSON(publicKey);
    return ceremony(navigator.credentials.create({ publicKey: options }));
  }

  function usePasskey(publicKey) {
    if (!passkeysAvailable()) {
      return Promise.reject(new ApiError(0, "PASSKEY_UNSUPPORTED", "", null));
    }
    var options = PublicKeyCredential.parseRequestOptionsFromJSON(publicKey);
    return ceremony(navigator.credentials.get({ publicKey: options }));
  }

  // Registration: the password again for fresh options, the browser creates the
  // passkey, the API verifies and stores it.
  function addPasskey(password, name) {
    return authed("POST", "users/me/passkeys/options", { password: password })
      .then(function (answer) {
        return createPasskey(answer.publicKey);
      })
      .then(function (credential) {
        var body = { credential: credential };
        if (name) {
          body.name = name;
        }
        return authed("POST", "users/me/passkeys", body);
      });
  }

  // Run one form's action: no double submits, errors shown as sentences.
  function guarded(form, action, context) {
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      if (busy) {
        return;
      }
      busy = true;
      clearMessages();
      var buttons = form.querySelectorAll("button");
      buttons.forEach(function (b) {
        b.setAttribute("aria-disabled", "true");
      });
      Promise.resolve()
        .then(action)
        .catch(function (error) {
          handleError(error, context);
        })
        .then(function () {
          busy = false;
          buttons.forEach(function (b) {
            b.removeAttribute("aria-disabled");
          });
        });
    });
  }

  function handleError(error, context) {
    if (!(error instanceof ApiError)) {
      showError(describe({ code: "UNEXPECTED" }, context));
      return;
    }
    var message = describe(error, context);
    if (error.code === "NOT_AUTHENTICATED") {
      // The mfa_token or the session is gone: back to the first step.
      forget();
      show("login-view", "login-username");
    }
    showError(message);
  }

  // ---- sign-in ------------------------------------------------------------------------
  var STEP_EXPIRED = {
    NOT_AUTHENTICATED: "The sign-in step expired. Please start again with your username and password.",
  };

  function restart() {
    forget();
    clearMessages();
    $("login-password").value = "";
    show("login-view", "login-username");
  }

  function setMfaMode(mode) {
    mfaMode = mode;
    var input = $("mfa-code");
    input.value = "";
    if (mode === "recovery") {
      $("mfa-code-label").textContent = "Recovery code";
      $("mfa-help").textContent = "Enter one of your saved recovery codes. Each code works once.";
      input.setAttribute("inputmode", "text");
      input.setAttribute("autocomplete", "off");
      input.removeAttribute("pattern");
      $("mfa-toggle").textContent = "Use the code from my app instead";
    } else {
      $("mfa-code-label").textContent = "Authentication code";
      $("mfa-help").textContent = "Enter the 6-digit code from your authenticator app.";
      input.setAttribute("inputmode", "numeric");
      input.setAttribute("autocomplete", "one-time-code");
      input.setAttribute("pattern", "[0-9]*");
      $("mfa-toggle").textContent = "Use a recovery code instead";
    }
  }

  function requireValue(id, label) {
    var value = $(id).value;
    if (!value.trim()) {
      $(id).focus();
      throw new ApiError(0, "VALIDATION_ERROR", label + " is required.", null);
    }
    return value;
  }

  guarded(
    $("login-form"),
    function () {
      var name = requireValue("login-username", "Username").trim();
      var password = requireValue("login-password", "Password");
      return request("POST", "auth/login", { username: name, password: password }).then(
        function (answer) {
          username = name;
          mfaToken = answer.mfa_token;
          $("login-password").value = "";
          if (answer.mfa === "setup") {
            pendingPassword = password;
            return startSetup();
          }
          var methods = answer.methods || [];
          $("mfa-passkey-form").hidden = !(methods.indexOf("passkey") >= 0 && passkeysAvailable());
          setMfaMode("totp");
          show("mfa-view", "mfa-code");
        }
      );
    },
    {
      messages: {
        INVALID_CREDENTIALS: "The username or password is wrong. Check them and try again.",
      },
    }
  );

  guarded(
    $("mfa-form"),
    function () {
      var code = requireValue("mfa-code", mfaMode === "recovery" ? "The recovery code" : "The code");
      return request("POST", "auth/mfa/verify", { mfa_token: mfaToken, code: code.trim() })
        .then(function (tokens) {
          $("mfa-code").value = "";
          keepTokens(tokens);
          mfaToken = null;
          return openProfile();
        })
        .catch(function (error) {
          $("mfa-code").value = "";
          throw error;
        });
    },
    {
      messages: {
        INVALID_CREDENTIALS:
          "That code is not right, or it was already used. Wait for the next code and try again.",
        NOT_AUTHENTICATED: STEP_EXPIRED.NOT_AUTHENTICATED,
      },
    }
  );

  guarded(
    $("mfa-passkey-form"),
    function () {
      return request("POST", "auth/mfa/passkey/options", { mfa_token: mfaToken })
        .then(function (answer) {
          return usePasskey(answer.publicKey);
        })
        .then(function (credential) {
          return request("POST", "auth/mfa/verify", { mfa_token: mfaToken, credential: credential });
        })
        .then(function (tokens) {
          keepTokens(tokens);
          mfaToken = null;
          return openProfile();
        });
    },
    {
      messages: {
        INVALID_CREDENTIALS: "That passkey did not work for this account. Try again or use a code.",
        NOT_AUTHENTICATED: STEP_EXPIRED.NOT_AUTHENTICATED,
      },
    }
  );

  // Passwordless: the passkey names the account and verifies the user on its own.
  guarded(
    $("passkey-form"),
    function () {
      return request("POST", "auth/passkey/options", {})
        .then(function (answer) {
          return usePasskey(answer.publicKey).then(function (credential) {
            return request("POST", "auth/passkey/verify", {
              passkey_token: answer.passkey_token,
              credential: credential,
            });
          });
        })
        .then(function (tokens) {
          keepTokens(tokens);
          return openProfile();
        });
    },
    {
      messages: {
        INVALID_CREDENTIALS:
          "That passkey did not sign you in. It may have been removed: sign in with your password.",
      },
    }
  );

  $("mfa-toggle").addEventListener("click", function () {
    setMfaMode(mfaMode === "totp" ? "recovery" : "totp");
    $("mfa-code").focus();
  });

  document.querySelectorAll(".restart").forEach(function (button) {
    button.addEventListener("click", restart);
  });

  // ---- first sign-in: TOTP enrollment --------------------------------------------------

  // The server's QR code is a standalone SVG document, shown as an <img> data: URL
  // (allowed by img-src), where an SVG can never run script or reach the page.
  function qrDataUrl(markup) {
    if (typeof markup !== "string" || markup.indexOf("<svg") !== 0) {
      return null;
    }
    return "data:image/svg+xml;charset=utf-8," + encodeURIComponent(markup);
  }
  function startSetup() {
    return request("POST", "auth/mfa/setup", { mfa_token: mfaToken }).then(function (enrollment) {
      $("setup-secret").textContent = enrollment.secret.replace(/(.{4})(?=.)/g, "$1 ");
      var qr = qrDataUrl(enrollment.qr_svg);
      $("setup-qr").hidden = !qr;
      if (qr) {
        $("setup-qr").src = qr;
      }
      $("setup-code").value = "";
      $("setup-passkey").hidden = !passkeysAvailable();
      show("setup-view", "setup-code");
    });
  }

  guarded(
    $("setup-form"),
    function () {
      var code = requireValue("setup-code", "The code");
      return request("POST", "auth/mfa/setup/confirm", { mfa_token: mfaToken, code: code.trim() })
        .then(function (answer) {
          $("setup-code").value = "";
          keepTokens(answer);
          mfaToken = null;
          $("setup-secret").textContent = "";
          $("setup-qr").removeAttribute("src");
          var password = pendingPassword;
          pendingPassword = null;
          // The codes first: they are shown this once, whatever the passkey does.
          showCodes(answer.recovery_codes);
          if (password && passkeysAvailable() && $("setup-add-passkey").checked) {
            return addPasskey(password, "").then(function () {
              showNotice("A passkey for this device is added to your account.");
            });
          }
        })
        .catch(function (error) {
          $("setup-code").value = "";
          throw error;
        });
    },
    {
      messages: {
        INVALID_CREDENTIALS:
          "That code is not right. Check that your app shows this account and the clock of your device is correct, then enter the current code.",
        NOT_AUTHENTICATED: STEP_EXPIRED.NOT_AUTHENTICATED,
      },
    }
  );

  // ---- recovery codes, shown once -----------------------------------------------------
  function showCodes(codes) {
    var list = $("codes-list");
    list.replaceChildren();
    codes.forEach(function (code) {
      var item = document.createElement("li");
      var text = document.createElement("code");
      text.textContent = code;
      item.appendChild(text);
      list.appendChild(item);
    });
    $("codes-saved").checked = false;
    $("codes-continue").disabled = true;
    show("codes-view", "codes-title");
  }

  $("codes-saved").addEventListener("change", function () {
    $("codes-continue").disabled = !$("codes-saved").checked;
  });

  $("codes-copy").addEventListener("click", function () {
    var codes = Array.prototype.map.call($("codes-list").querySelectorAll("code"), function (c) {
      return c.textContent;
    });
    if (!navigator.clipboard) {
      showError("Copying is not available here: select the codes and copy them by hand.");
      return;
    }
    navigator.clipboard.writeText(codes.join("\n")).then(
      function () {
        showNotice("Recovery codes copied. Paste them somewhere safe.");
      },
      function () {
        showError("Copying did not work: select the codes and copy them by hand.");
      }
    );
  });

  guarded($("codes-form"), function () {
    if (!$("codes-saved").checked) {
      $("codes-saved").focus();
      throw new ApiError(0, "VALIDATION_ERROR", "confirm that you have saved your recovery codes.", null);
    }
    $("codes-list").replaceChildren();
    return openProfile();
  });

  // ---- signed in ----------------------------------------------------------------------
  function formatDate(iso) {
    var date = new Date(iso);
    return isNaN(date.getTime()) ? "" : date.toLocaleDateString();
  }

  function renderProfile(user) {
    username = user.username;
    $("profile-username").textContent = user.username;
    $("profile-role").textContent = user.role;
    $("profile-mfa").textContent = user.mfa_enabled ? "On" : "Off";
    $("profile-created").textContent = formatDate(user.created_at);
    $("profile-full-name").value = user.full_name || "";
    $("profile-full-name").dataset.saved = user.full_name || "";
    $("profile-email").value = user.email;
    $("profile-email").dataset.saved = user.email;
    $("password-username").value = user.username;
  }

  function openProfile() {
    return authed("GET", "users/me").then(function (user) {
      renderProfile(user);
      // Shown once the list is there too: the page takes no input while it is busy.
      var listed = passkeysAvailable() ? loadPasskeys() : Promise.resolve();
      return listed.finally(function () {
        show("profile-view", "profile-title");
      });
    });
  }

  function renderPasskeys(items) {
    var list = $("passkey-list");
    list.replaceChildren();
    items.forEach(function (passkey) {
      var item = document.createElement("li");
      var name = document.createElement("span");
      name.className = "passkey-name";
      name.textContent = passkey.name;
      var facts = document.createElement("span");
      facts.className = "help";
      facts.textContent =
        "added " + formatDate(passkey.created_at) +
        (passkey.last_used_at ? ", last used " + formatDate(passkey.last_used_at) : ", never used");
      var remove = document.createElement("button");
      remove.type = "button";
      remove.className = "secondary";
      remove.textContent = "Remove";
      remove.setAttribute("aria-label", "Remove passkey " + passkey.name);
      remove.addEventListener("click", function () {
        removePasskey(passkey.id);
      });
      item.append(name, " ", facts, " ", remove);
      list.appendChild(item);
    });
    $("passkey-none").hidden = items.length > 0;
  }

  function loadPasskeys() {
    return authed("GET", "users/me/passkeys").then(function (answer) {
      renderPasskeys(answer.items);
    });
  }

  function removePasskey(id) {
    if (busy) {
      return;
    }
    busy = true;
    clearMessages();
    authed("DELETE", "users/me/passkeys/" + encodeURIComponent(id))
      .then(function () {
        showNotice("The passkey is removed.");
        return loadPasskeys();
      })
      .catch(function (error) {
        handleError(error);
      })
      .then(function () {
        busy = false;
      });
  }

  guarded(
    $("passkey-add-form"),
    function () {
      var password = requireValue("passkey-password", "The password");
      return addPasskey(password, $("passkey-name").value.trim())
        .then(function () {
          $("passkey-name").value = "";
          showNotice("Your passkey is added.");
          return loadPasskeys();
        })
        .finally(function () {
          $("passkey-password").value = "";
        });
    },
    {
      messages: {
        INVALID_CREDENTIALS: "The password is wrong.",
        CONFLICT: "This passkey is already registered.",
      },
    }
  );

  guarded($("profile-form"), function () {
    var changes = {};
    var fullName = $("profile-full-name").value.trim();
    var email = $("profile-email").value.trim();
    if (fullName !== $("profile-full-name").dataset.saved) {
      changes.full_name = fullName;
    }
    if (email !== $("profile-email").dataset.saved) {
      if (!email) {
        throw new ApiError(0, "VALIDATION_ERROR", "Email is required.", null);
      }
      changes.email = email;
    }
    if (Object.keys(changes).length === 0) {
      showNotice("Nothing to save: no changes.");
      return null;
    }
    return authed("PATCH", "users/me", changes).then(function (user) {
      renderProfile(user);
      showNotice("Your profile is saved.");
    });
  });

  guarded(
    $("password-form"),
    function () {
      var current = requireValue("password-current", "The current password");
      var next = requireValue("password-new", "The new password");
      if (next !== $("password-confirm").value) {
        $("password-confirm").focus();
        throw new ApiError(0, "VALIDATION_ERROR", "the two new passwords are not the same.", null);
      }
      return authed("POST", "users/me/password", { current_password: current, new_password: next })
        .then(function (tokens) {
          keepTokens(tokens);
          showNotice("Your password is changed. Your other sessions are signed out.");
        })
        .finally(function () {
          $("password-current").value = "";
          $("password-new").value = "";
          $("password-confirm").value = "";
        });
    },
    {
      messages: { INVALID_CREDENTIALS: "The current password is wrong." },
    }
  );

  guarded(
    $("recovery-form"),
    function () {
      var password = requireValue("recovery-password", "The password");
      var code = requireValue("recovery-code", "The code");
      return authed("POST", "users/me/mfa/recovery-codes", { password: password, code: code.trim() })
        .then(function (answer) {
          showCodes(answer.recovery_codes);
        })
        .finally(function () {
          $("recovery-password").value = "";
          $("recovery-code").value = "";
        });
    },
    {
      messages: {
        INVALID_CREDENTIALS:
          "The password or the code is wrong (each code works once). Check them and try again.",
      },
    }
  );

  function signOut(path, body, message) {
    if (busy) {
      return;
    }
    busy = true;
    clearMessages();
    var done = function () {
      busy = false;
      forget();
      username = "";
      $("login-password").value = "";
      show("login-view", "login-username");
      showNotice(message);
    };
    authed("POST", path, body).then(done, function (error) {
      if (error instanceof ApiError && error.code === "NOT_AUTHENTICATED") {
        done(); // already signed out on the server
        return;
      }
      busy = false;
      handleError(error);
    });
  }

  $("logout").addEventListener("click", function () {
    signOut(
      "auth/logout",
      function () {
        return { refresh_token: session ? session.refresh_token : "" };
      },
      "You are signed out."
    );
  });

  $("logout-all").addEventListener("click", function () {
    signOut("auth/logout-all", undefined, "You are signed out on every device.");
  });

  // ---- start ------------------------------------------------------------------------
  $("passkey-form").hidden = !passkeysAvailable();
  $("passkeys-card").hidden = !passkeysAvailable();
  show("login-view", "login-username");
})();
