"""careerloop's services. Each is a bounded context; services never import each other."""
