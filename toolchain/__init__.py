"""Striate's toolchain: export, verify, quantise and import models into model folders; train
the zoo. The only part of Striate that needs torch."""
