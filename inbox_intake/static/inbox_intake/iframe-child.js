/* Inbox Intake, inside the embed iframe: tells the host page how tall the form is, and when it
 * has been sent (with the reference and the allowed page to go to next, if any).
 *
 * Messages go to any parent ("*"): the page's Content-Security-Policy frame-ancestors lets only
 * this site and the allowed origins frame it, and the messages carry nothing secret.
 */
(function () {
  "use strict";
  if (window.parent === window) {
    return;
  }

  function tell(message) {
    message.source = "inbox-intake";
    window.parent.postMessage(message, "*");
  }

  var lastHeight = 0;
  function tellHeight() {
    var height = Math.ceil(document.documentElement.getBoundingClientRect().height);
    if (height !== lastHeight) {
      lastHeight = height;
      tell({ type: "height", height: height });
    }
  }
  new ResizeObserver(tellHeight).observe(document.documentElement);
  tellHeight();

  var submitted = document.getElementById("inbox-intake-submitted");
  if (submitted) {
    tell({
      type: "submitted",
      reference: submitted.dataset.reference,
      next: submitted.dataset.next,
    });
  }
})();
