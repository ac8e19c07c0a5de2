"""contacts: each student's professionals and the history of the relationship with each."""
