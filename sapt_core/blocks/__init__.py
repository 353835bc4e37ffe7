"""PET blocks shared by every block method: multi-block LoRA (:mod:`.lora`, paper Eq. 3 and Appendix A Eq. 7), multi-block
soft prompts (:mod:`.prompt`), the frozen backbone with t blocks mixed per input (:mod:`.model`), and single blocks
through peft (:mod:`.pet`, the ARM generator's)."""
