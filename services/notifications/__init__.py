"""notifications: reminders and follow-up nudges by e-mail, signed webhooks and an in-app inbox."""
