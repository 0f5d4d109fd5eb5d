"""Training-free tracking heads on a frozen model: association (mot, mots), propagation (vos, pose), sot.

Submodules are imported on use; ``unitrack.eval.TASKS`` maps each task to its head module.
"""
