"""Attentive Reflection Module (ARM, paper section 4.3): a generator B_ref per task and the pseudo inputs it samples
(:mod:`.generator`, :mod:`.settings`), and the KL that pulls the attention of those pseudo inputs back to the
task's stored weights (:mod:`.reflection`, Eq. 5-6), which the SAPT method adds to its loss."""
