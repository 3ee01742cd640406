"""A real-music teacher for distillation: musicnn's MSD_musicnn ported to PyTorch, its
weights read straight out of the musicnn wheel (no TensorFlow), and per-window labelling."""
