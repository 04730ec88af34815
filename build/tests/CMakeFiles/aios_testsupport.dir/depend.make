# Empty dependencies file for aios_testsupport.
# This may be replaced when dependencies are built.
