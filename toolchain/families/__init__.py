"""Architecture families; each module registers its architectures on import."""
