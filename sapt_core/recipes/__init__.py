"""One readable recipe per job (torchtune style): single_task, evaluate; later train_step, train_generator."""
