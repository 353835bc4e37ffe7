"""Small ``sapt`` commands about the workflow rather than training: ``sapt resources`` (:mod:`.resources`) and
``sapt install-profile`` (:mod:`.install_profile`)."""
