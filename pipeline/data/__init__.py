"""Datasets: registry of sources, fetching with verification, readers, splits, augmentation."""
