"""The commands that train and evaluate (torchtune's recipes): ``step`` (one step of any method's run, the single-task
runs included), ``evaluate``, and ARM's ``train_generator`` and ``generate_pseudo``. A recipe does not know which
method it runs; the method is a component of :mod:`sapt_core.methods`."""
