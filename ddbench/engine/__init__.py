"""What every engine shares, backend-neutral: the layer below both ``train/`` and ``backend/``.

A trainer (``ddbench/train/``) and a backend's compiled engine (``ddbench/backend/<name>/engine.py``)
must train the same models, so they take the same pieces from here: the training protocol's
seeds and batch orders (:mod:`.protocol`), the learning-rate curve (:mod:`.lr_curve`) and the
optimizers that apply it (:mod:`.optimizer`, :mod:`.lr_schedule`), the curve metrics
(:mod:`.evaluate`), the backend-neutral compiled engine (:mod:`.bundle_engine`) and its vmap
lanes (:mod:`.lanes`). Nothing here imports ``ddbench.train`` or ``ddbench.backend``: the trainers
use the backends, and the backends must not import the trainers back.
"""
