"""followups: each student's timelines and follow-up queue (a read side, plus snooze and dismiss)."""
