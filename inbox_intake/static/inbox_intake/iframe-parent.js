/* Inbox Intake, on the host page of an iframe embed: sizes each embed iframe to its form, and
 * after a submission goes to the page the embed was given as `next` (if it gave one).
 *
 *   <iframe data-inbox-intake src="https://forms.example.com/intake/contact/embed/"
 *           title="Contact us" style="width:100%;height:40rem;border:0"></iframe>
 *   <script src="https://forms.example.com/static/inbox_intake/iframe-parent.js" async></script>
 */
(function () {
  "use strict";

  function frameOf(event) {
    var frames = document.querySelectorAll("iframe[data-inbox-intake]");
    for (var i = 0; i < frames.length; i++) {
      // Only the embed's own page may talk for it: same window, and from the origin it was loaded from.
      if (frames[i].contentWindow === event.source && new URL(frames[i].src).origin === event.origin) {
        return frames[i];
      }
    }
    return null;
  }

  window.addEventListener("message", function (event) {
    var message = event.data;
    if (!message || message.source !== "inbox-intake") {
      return;
    }
    var frame = frameOf(event);
    if (!frame) {
      return;
    }
    if (message.type === "height" && message.height > 0) {
      frame.style.height = message.height + "px";
    } else if (message.type === "submitted" && /^https?:\/\//.test(message.next || "")) {
      // The server only passes on a `next` (made absolute) on its own site or an allowed origin.
      window.location.assign(message.next);
    }
  });
})();
