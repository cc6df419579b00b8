from ._cli import entrypoint

entrypoint()
