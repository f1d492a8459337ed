"""Inbox Intake's business logic, one module per verb. Views, tasks, admin actions and management
commands call these functions and hold no logic of their own.

- `intake`: accept a valid submission (saved first, delivery published after the commit);
- `delivery`: deliver one submission (claim it, find the Wix conversation, send, record);
- `participants`: who a submitter is in Wix (member, visitor or contact) and their conversation;
- `broker`: publishing the delivery task, and asking the broker's queue how many wait;
- `relay`: enqueue what is due, so a lost task message or a dead worker delays but never loses;
- `staff_actions`: retry, discard and purge, as the admin and the commands offer them;
- `reporting`: what the admin summary and `intake_status` show, and the CSV export.

The database is the outbox: every state change is a conditional UPDATE, so two workers (or a
duplicated task message) can never deliver the same submission twice.
"""
