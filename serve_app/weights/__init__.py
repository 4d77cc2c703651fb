"""Model packages: where weights come from (a local folder, S3, the Roboflow API) and
the one on-disk cache in front of them (``store.py``); ``package.py`` reads a package."""
