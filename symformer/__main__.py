from symformer.cli.main import entrypoint

entrypoint()
