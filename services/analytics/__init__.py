"""The analytics service: the pseudonymised integration stream for campus data teams, the students'
academic attributes (the roster), and the funnel and engagement analysts read."""
