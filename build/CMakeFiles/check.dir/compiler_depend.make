# Empty custom commands generated dependencies file for check.
# This may be replaced when dependencies are built.
