"""analytics: the roster of students' academic attributes, and the funnel and engagement analysts read (pseudonymised, small cells suppressed)."""
