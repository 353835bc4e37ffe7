"""LFPT5 (paper section 5.2): the component and its config (:mod:`.method`, torch-free, read at plan time) and the
generation rows and generative replay it trains with (:mod:`.examples`)."""

from sapt_core.methods.lfpt5.method import Lfpt5, Lfpt5Config

__all__ = ["Lfpt5", "Lfpt5Config"]
