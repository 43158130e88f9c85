"""The ordering contract, checked independently of the schedulers on a recorded render."""
