"""Data for the zoo's training scripts: loaders of data sets that packages ship, and
generators of synthetic scenes with exact ground truth.

Every loader returns numpy arrays (images uint8 NHWC) and fails with a message that says which
package to install when its data is missing. Nothing here downloads anything.
"""
