"""Evaluation: greedy decoding and seeded sampling (:mod:`.generation`), per-instance task metrics (:mod:`.scoring`,
exact match and Rouge-L, paper section 5.1.2) and the continual-learning metrics of a score matrix (:mod:`.metrics`:
AP, F.Ra, FWT, BWT)."""
