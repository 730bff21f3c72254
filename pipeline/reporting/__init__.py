"""What the stages write for people: markdown tables, figures, the papers' reference numbers."""
