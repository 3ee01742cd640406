"""Training musicprism's encoder: typed configs (:mod:`model.train.config`), the one
YAML/dict mapping (:mod:`model.train.builders`), cached log-mel crops
(:mod:`model.train.features`), augmentation (:mod:`model.train.augment`), objectives
(:mod:`model.train.objectives`), the loop (:mod:`model.train.loop`), the shipped tag head
(:mod:`model.train.tag_head`), a whole run (:mod:`model.train.run`), the comparison
benchmark (:mod:`model.train.benchmark`); their flags are in :mod:`service.cli.training`."""
