"""The names a run's ``input`` dict may use (pipeline/data/inputs.py implements them).

Apart from inputs.py so that validating params (pipeline/config/schema.py) needs neither torch nor the
augmentation code: a stage that only reads params does not depend on them.
"""

AUGMENTS = ("none", "shift", "crop_flip", "pad_crop_flip", "affine_flip")
STANDARDIZE = ("none", "per_image", "per_channel")
