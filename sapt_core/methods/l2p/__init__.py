"""L2P (paper section 5.2): the component and its config (:mod:`.method`, torch-free, read at plan time) and the prompt
pool with its keys (:mod:`.model`)."""

from sapt_core.methods.l2p.method import L2P, L2PConfig

__all__ = ["L2P", "L2PConfig"]
