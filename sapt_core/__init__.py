"""sapt_core: the training library behind the SAPT continual-learning workflow.

SAPT = Shared Attentive learning & Selection (SALS) + Attentive Reflection Module (ARM), Zhao et al., ACL 2024.
Importing this package is cheap on purpose (no torch/transformers at import time): every Snakemake job is a
fresh process, and on tiny backbones start-up dominates the job.
"""

__version__ = "0.1.0"
