/* Inbox Intake script embed: renders an intake form into the host page and sends it with fetch.
 *
 *   <div id="contact-form"></div>
 *   <script src="https://forms.example.com/intake/contact/embed.js" data-target="#contact-form" async></script>
 *
 * The same file serves every form: it reads the fields from schema.json beside its own URL.
 * data-target: where to render (a CSS selector; default: just before this script).
 * data-next:   a page on an allowed origin to open after a successful submission.
 * No dependencies and no build step; the host page may restyle the .inbox-intake-* classes, or
 * link the optional stylesheet static/inbox_intake/embed.css, which inherits the page's font.
 */
(function () {
  "use strict";

  var script = document.currentScript;
  var formUrl = new URL("./", script.src).href;
  var container = script.dataset.target && document.querySelector(script.dataset.target);
  if (!container) {
    container = document.createElement("div");
    script.parentNode.insertBefore(container, script);
  }
  // Ids stay unique with several embeds on one page.
  var idPrefix = "inbox-intake-" + Math.random().toString(36).slice(2, 8) + "-";
  var STYLE =
    ".inbox-intake-field{margin:0 0 1rem}" +
    ".inbox-intake-field label{display:block;font-weight:600;margin-bottom:.25rem}" +
    ".inbox-intake-field.inbox-intake-checkbox label{display:inline;font-weight:normal}" +
    ".inbox-intake-field input:not([type=checkbox]):not([type=radio]),.inbox-intake-field textarea," +
    ".inbox-intake-field select{width:100%;box-sizing:border-box;padding:.5rem;font:inherit}" +
    ".inbox-intake-choices{border:0;padding:0;min-width:0}" +
    ".inbox-intake-choices legend{font-weight:600;margin-bottom:.25rem;padding:0}" +
    ".inbox-intake-field.inbox-intake-choices label{display:inline;font-weight:normal}" +
    ".inbox-intake-help{margin:.25rem 0 0;font-size:.9em;opacity:.8}" +
    ".inbox-intake-field [aria-invalid=true]{border-color:#b3261e}" +
    ".inbox-intake-error{color:#b3261e;margin:.25rem 0 0;font-size:.9em}" +
    ".inbox-intake-optional{font-weight:normal;opacity:.8}" +
    ".inbox-intake-honeypot{position:absolute;left:-10000px;width:1px;height:1px;overflow:hidden}";

  function element(tag, attributes, text) {
    var node = document.createElement(tag);
    Object.keys(attributes || {}).forEach(function (name) {
      node.setAttribute(name, attributes[name]);
    });
    if (text) {
      node.textContent = text;
    }
    return node;
  }

  function addStyle() {
    if (!document.getElementById("inbox-intake-style")) {
      document.head.appendChild(element("style", { id: "inbox-intake-style" }, STYLE));
    }
  }

  function control(spec, id) {
    if (spec.type === "textarea") {
      return element("textarea", { rows: "6" });
    }
    if (spec.type === "select") {
      var select = element("select");
      select.append(element("option", { value: "" }, spec.required ? "Choose one" : "—"));
      spec.choices.forEach(function (choice) {
        select.append(element("option", { value: choice[0] }, choice[1]));
      });
      return select;
    }
    if (spec.type === "file") {
      var input = element("input", { type: "file", accept: spec.accept.join(",") });
      input.multiple = spec.multiple;
      return input;
    }
    return element("input", { type: spec.type });
  }

  // A field's label, marked "(optional)" unless it is required (a lone checkbox needs no mark).
  function labelled(tag, attributes, spec) {
    var label = element(tag, attributes, spec.label);
    if (!spec.required && spec.type !== "checkbox") {
      label.append(" ", element("span", { class: "inbox-intake-optional" }, "(optional)"));
    }
    return label;
  }

  // Several checkboxes or radio buttons: one fieldset, its legend the field's label.
  function choiceGroup(spec, id) {
    var group = element("fieldset", { class: "inbox-intake-field inbox-intake-choices", id: id });
    group.append(labelled("legend", {}, spec));
    spec.choices.forEach(function (choice, index) {
      var optionId = id + "-" + index;
      var input = element("input", { type: spec.type === "radio" ? "radio" : "checkbox", id: optionId });
      input.name = spec.name;
      input.value = choice[0];
      input.dataset.group = spec.type;
      var option = element("div");
      option.append(input, " ", element("label", { for: optionId }, choice[1]));
      group.append(option);
    });
    return group;
  }

  function field(spec) {
    var id = idPrefix + spec.name;
    var error = element("p", { id: id + "-error", class: "inbox-intake-error", hidden: "" });
    var help = spec.help_text && element("p", { class: "inbox-intake-help" }, spec.help_text);
    if (spec.type === "checkboxes" || spec.type === "radio") {
      var group = choiceGroup(spec, id);
      group.append.apply(group, help ? [help, error] : [error]);
      return group;
    }
    var checkbox = spec.type === "checkbox";
    var wrapper = element("div", {
      class: "inbox-intake-field" + (checkbox ? " inbox-intake-checkbox" : ""),
    });
    var input = control(spec, id);
    input.id = id;
    input.name = spec.name;
    input.required = spec.required && !checkbox;
    if (spec.max_length) {
      input.maxLength = spec.max_length;
    }
    if (spec.autocomplete) {
      input.setAttribute("autocomplete", spec.autocomplete);
    }
    var label = labelled("label", { for: id }, spec);
    if (checkbox) {
      wrapper.append(input, " ", label, error);
    } else {
      wrapper.append(label, input);
      if (help) {
        wrapper.append(help);
      }
      wrapper.append(error);
    }
    return wrapper;
  }

  function honeypot(name) {
    // Off screen, out of the Tab order and hidden from screen readers: only bots fill it in.
    var wrapper = element("div", { class: "inbox-intake-honeypot", "aria-hidden": "true" });
    var input = element("input", { type: "text", name: name, id: idPrefix + name, tabindex: "-1", autocomplete: "off" });
    wrapper.append(element("label", { for: idPrefix + name }, "Leave this field empty"), input);
    return wrapper;
  }

  function captcha(spec) {
    // The provider's script turns this into its widget, which adds the response input to the form.
    if (!document.querySelector('script[src="' + spec.script_url + '"]')) {
      document.head.appendChild(element("script", { src: spec.script_url, async: "" }));
    }
    return element("div", { class: "inbox-intake-field " + spec.widget_class, "data-sitekey": spec.site_key });
  }

  function values(form) {
    var data = {};
    Array.prototype.forEach.call(form.elements, function (input) {
      if (!input.name || input.type === "file") {
        return;
      }
      if (input.dataset.group === "checkboxes") {
        data[input.name] = (data[input.name] || []).concat(input.checked ? [input.value] : []);
      } else if (input.dataset.group === "radio") {
        data[input.name] = input.checked ? input.value : data[input.name] || "";
      } else {
        data[input.name] = input.type === "checkbox" ? input.checked : input.value;
      }
    });
    if (script.dataset.next) {
      data.next = script.dataset.next;
    }
    return data;
  }

  // A form with files is sent as multipart/form-data: the same fields, and each file as a part.
  function multipart(form) {
    var body = new FormData();
    var data = values(form);
    Object.keys(data).forEach(function (name) {
      [].concat(data[name]).forEach(function (value) {
        body.append(name, String(value));
      });
    });
    form.querySelectorAll("input[type=file]").forEach(function (input) {
      Array.prototype.forEach.call(input.files, function (file) {
        body.append(input.name, file, file.name);
      });
    });
    return body;
  }

  // "10 MB", "512 KB", "300 bytes", as the server writes sizes (1 KB = 1,024 bytes).
  function size(bytes) {
    var units = [["MB", 1048576], ["KB", 1024]];
    for (var i = 0; i < units.length; i++) {
      if (bytes >= units[i][1]) {
        return (bytes / units[i][1]).toFixed(1).replace(/\.0$/, "") + " " + units[i][0];
      }
    }
    return bytes + " bytes";
  }

  // The size limits, checked before anything is sent: a file too large would be refused only
  // after its upload. The server checks them again, and the types by the files' content.
  function fileErrors(form, specs) {
    var errors = {};
    var count = 0;
    var total = 0;
    specs.forEach(function (spec) {
      var input = form.querySelector('input[type=file][name="' + spec.name + '"]');
      Array.prototype.some.call(input.files, function (file) {
        var problem = null;
        count += 1;
        total += file.size;
        if (count > spec.max_files) {
          problem = "At most " + spec.max_files + " files can be sent with this form; “" + file.name +
            "” would be file number " + count + ".";
        } else if (!file.size) {
          problem = "“" + file.name + "” is empty (0 bytes).";
        } else if (file.size > spec.max_file_size) {
          problem = "“" + file.name + "” is " + size(file.size) + "; a file may be at most " +
            size(spec.max_file_size) + ".";
        } else if (total > spec.max_total_file_size) {
          problem = "With “" + file.name + "” the files come to " + size(total) + "; at most " +
            size(spec.max_total_file_size) + " can be sent in all.";
        }
        if (problem) {
          errors[spec.name] = [{ message: problem }];
        }
        return problem !== null;
      });
    });
    return errors;
  }

  function clearErrors(form) {
    form.querySelectorAll("[aria-invalid]").forEach(function (input) {
      input.removeAttribute("aria-invalid");
      input.removeAttribute("aria-describedby");
    });
    form.querySelectorAll(".inbox-intake-error").forEach(function (error) {
      error.hidden = true;
      error.textContent = "";
    });
  }

  // Field errors go beside their fields; the rest (and the outcome) to the live region.
  function showErrors(form, status, errors) {
    var general = [];
    var firstInvalid = null;
    Object.keys(errors).forEach(function (name) {
      var messages = errors[name].map(function (error) {
        return error.message;
      });
      // A group's inputs share the name: the fieldset (id = the field's id) takes the error.
      var input = document.getElementById(idPrefix + name);
      var error = input && form.contains(input) && document.getElementById(input.id + "-error");
      if (!error) {
        general = general.concat(messages);
        return;
      }
      error.textContent = messages.join(" ");
      error.hidden = false;
      input.setAttribute("aria-invalid", "true");
      input.setAttribute("aria-describedby", error.id);
      firstInvalid = firstInvalid || (input.tagName === "FIELDSET" ? input.querySelector("input") : input);
    });
    status.textContent = general.length ? general.join(" ") : "Please correct the marked fields.";
    if (firstInvalid) {
      firstInvalid.focus();
    }
  }

  function resetCaptcha() {
    // A CAPTCHA answer is good for one check only.
    var widget = window.turnstile || window.hcaptcha;
    if (widget) {
      widget.reset();
    }
  }

  function render(schema) {
    addStyle();
    var form = element("form", { class: "inbox-intake", novalidate: "" });
    var status = element("div", { class: "inbox-intake-status", role: "status", "aria-live": "polite" });
    form.appendChild(honeypot(schema.honeypot));
    schema.fields.forEach(function (spec) {
      form.appendChild(field(spec));
    });
    if (schema.captcha) {
      form.appendChild(captcha(schema.captcha));
    }
    var button = element("button", { type: "submit" }, "Send");
    form.appendChild(button);
    container.replaceChildren(form, status);
    var fileSpecs = schema.fields.filter(function (spec) {
      return spec.type === "file";
    });

    form.addEventListener("submit", function (event) {
      event.preventDefault();
      clearErrors(form);
      var tooLarge = fileErrors(form, fileSpecs);
      if (Object.keys(tooLarge).length) {
        showErrors(form, status, tooLarge);
        return;
      }
      button.disabled = true;
      status.textContent = "Sending…";
      // Without files, JSON; with, multipart (the browser writes its Content-Type and boundary).
      var request = fileSpecs.length
        ? { method: "POST", headers: { Accept: "application/json" }, body: multipart(form) }
        : {
            method: "POST",
            headers: { Accept: "application/json", "Content-Type": "application/json" },
            body: JSON.stringify(values(form)),
          };
      fetch(schema.action, request)
        .then(function (response) {
          return response.json().then(function (body) {
            return { ok: response.ok, body: body };
          });
        })
        .then(function (answer) {
          if (answer.ok) {
            form.remove();
            status.textContent = "Thank you! " + answer.body.message;
            status.append(
              element("p", { class: "inbox-intake-reference" }, "Your reference: " + answer.body.reference)
            );
            if (answer.body.redirect) {
              window.location.assign(answer.body.redirect);
            }
            return;
          }
          showErrors(form, status, answer.body.errors || {});
          if (schema.captcha) {
            resetCaptcha();
          }
        })
        .catch(function () {
          status.textContent = "The form could not be sent. Please try again in a moment.";
        })
        .finally(function () {
          button.disabled = false;
        });
    });
  }

  fetch(formUrl + "schema.json", { headers: { Accept: "application/json" } })
    .then(function (response) {
      if (!response.ok) {
        throw new Error("schema " + response.status);
      }
      return response.json();
    })
    .then(render)
    .catch(function (error) {
      container.textContent = "The form could not be loaded. Please try again later.";
      if (error instanceof TypeError) {
        // The browser refused to read the answer: most often this page's origin is not allowed.
        console.error(
          "Inbox Intake: " + formUrl + "schema.json could not be read from " + location.origin +
            ". If the form's site is up, add " + location.origin +
            " to its INBOX_INTAKE_ALLOWED_ORIGINS setting."
        );
      }
    });
})();
