"""The model library: text handling in TensorFlow ops, Keras layers, the zoo, n-gram models, fitting."""
