"""The project's settings files: the methods file (:mod:`.methods_file`), the benchmarks file (:mod:`.benchmarks`),
safe names (:mod:`.names`), YAML reading (:mod:`.yaml_io`) and the key tables of config/README.md
(:mod:`.config_docs`). Torch-free: read at plan time."""
