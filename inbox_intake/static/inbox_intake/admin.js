// Inbox Intake's admin: a form marked data-confirm (discard, retry all failed) asks first, because
// what it does is hard to undo or touches many submissions at once.
"use strict";
document.addEventListener("submit", (event) => {
  const question = event.target.dataset.confirm;
  if (question && !window.confirm(question)) {
    event.preventDefault();
  }
});
