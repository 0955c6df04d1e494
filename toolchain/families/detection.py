"""detection family (to come)."""
