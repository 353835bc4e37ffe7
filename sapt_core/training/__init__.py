"""Training one job: the loop every method and the ARM generator train with (:mod:`.loop`: the HF Trainer with the
method's extra loss, Eq. 4 + its terms), the launch's ranks (:mod:`.ranks`), model selection's best epoch
(:mod:`.best_epoch`), in-job checkpoints and resume (:mod:`.resume`) and activation checkpointing
(:mod:`.activation_checkpointing`)."""
