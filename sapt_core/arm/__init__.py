"""Attentive Reflection Module (ARM, paper section 4.3): a generator B_ref per task, the pseudo inputs it samples, and
the attentive reflection that pulls the attention of those pseudo inputs back to the task's stored weights (Eq. 5-6).

This package holds the generator side (:mod:`sapt_core.arm.generator`: training rows, post-processing of sampled
texts, volume selection). The KL term of Eq. 6 lives with the SAPT method, not here.
"""
