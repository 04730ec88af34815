# Empty dependencies file for aios.
# This may be replaced when dependencies are built.
