"""The analytics service: the pseudonymised integration stream for campus data teams, cohorts, funnels
and the analyst API."""
