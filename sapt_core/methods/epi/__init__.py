"""EPI (paper section 5.2): the component and its config (:mod:`.method`, torch-free, read at plan time) and the
Mahalanobis task selection (:mod:`.router`)."""

from sapt_core.methods.epi.method import Epi, EpiConfig

__all__ = ["Epi", "EpiConfig"]
