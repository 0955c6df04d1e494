"""segmentation family (to come)."""
