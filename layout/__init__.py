"""The facet layout: the one contract between the model, the indexes and the service.

:mod:`layout.schema` says which tags exist, which concept each belongs to and which slice of
the embedding (facet) each concept owns; :mod:`layout.facets` holds the arithmetic of the
full-space vector (per-facet normalisation, cosines, facet weights, weighted queries);
:mod:`layout.tags` the tag proxies' (tag cosines, tag-search queries). numpy only: the
indexes and the service use it without torch, and import-linter keeps every other package
above it (``make lint``).
"""
