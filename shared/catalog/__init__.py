"""Catalog sync: every active SKU of a store, as one CSV, uploaded to CleverTap's catalog."""
