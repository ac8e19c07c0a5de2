"""notes: what a student learned from each conversation, kept so it can be found and acted on."""
