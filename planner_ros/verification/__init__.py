"""Step verification: did an executed step achieve its effects, and if not, why (for replanning)."""
