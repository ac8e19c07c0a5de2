"""analytics: the students' academic attributes (the roster), and the funnel and engagement analysts read."""
