"""Redis storage: the only source of truth for customers, dialogues, history and delivery."""
