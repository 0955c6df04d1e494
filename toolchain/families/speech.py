"""speech family (to come)."""
