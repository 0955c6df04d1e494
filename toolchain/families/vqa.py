"""vqa family (to come)."""
