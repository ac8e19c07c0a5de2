"""careerloop's shared kernel: event contracts, ports and adapters, and the web/worker plumbing every service uses."""
