"""Training: a model's spec and checkpoint, the losses, fit, the grid of trainings, predict."""
