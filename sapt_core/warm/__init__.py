"""``sapt warm``: one pre-imported worker that forks a process per ``sapt`` command of a local run (:mod:`.server`),
and the client side every ``sapt`` process uses while ``$SAPT_WARM`` names its socket (:mod:`.client`)."""
