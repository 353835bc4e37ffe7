"""SAPT (paper section 4) as one method family: the component and its config (:mod:`.method`, torch-free, read at plan
time), the shared attention of SALS (:mod:`.shared_attention`, Eq. 1-2), attentive reflection (:mod:`.reflection`,
Eq. 5-6), and Table 2's -Alignment / -DA ablations (:mod:`.pipeline`) with their separate selector (:mod:`.selector`).
Only the torch-free modules are imported here.
"""

from sapt_core.methods.sapt.method import Sapt, SaptConfig
from sapt_core.methods.sapt.pipeline import SaptPipeline, SaptPipelineConfig

__all__ = ["Sapt", "SaptConfig", "SaptPipeline", "SaptPipelineConfig"]
