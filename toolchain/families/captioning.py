"""captioning family (to come)."""
