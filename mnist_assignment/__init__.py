"""Handwritten-digit recognition on Kaggle's MNIST (digit-recognizer) with PyTorch."""
