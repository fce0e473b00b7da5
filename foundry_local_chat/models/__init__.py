"""The models: Foundry Local's runtime and its private catalog, the models this process serves,
what a model's name tells, and the builds of the bundled model and its browser copy (`python -m
foundry_local_chat.models.build`).
"""
