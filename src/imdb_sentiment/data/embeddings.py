"""Word vectors pretrained without labels: PPMI co-occurrence + truncated SVD.

Uses the training reviews and the 50,000 unlabeled reviews (never validation
or test); gives neighbours such as awful -> horrible, terrible, atrocious.
Levy & Goldberg (2014) showed such vectors are competitive with word2vec.

The SVD runs on one BLAS thread: a multi-threaded BLAS sums in an order that
depends on the thread count, which changes the last bits of the vectors, and
training amplifies those into a different model.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from sklearn.utils.extmath import randomized_svd
from threadpoolctl import threadpool_limits

# words this far apart or nearer co-occur
WINDOW = 5


def cooccurrence(
    ids: np.ndarray, offsets: np.ndarray, vocab_size: int, window: int = WINDOW
) -> sp.csr_matrix:
    """Symmetric co-occurrence counts within `window`, weighted 1/distance.

    Padding (0) and OOV (1) ids are left out; pairs never cross a review boundary.
    """
    review = np.repeat(np.arange(len(offsets) - 1), np.diff(offsets))
    counts = sp.csr_matrix((vocab_size, vocab_size), dtype=np.float64)
    for distance in range(1, window + 1):
        keep = (
            (review[:-distance] == review[distance:]) & (ids[:-distance] > 1) & (ids[distance:] > 1)
        )
        left, right = ids[:-distance][keep], ids[distance:][keep]
        pairs = sp.coo_matrix(
            (np.full(len(left), 1.0 / distance), (left, right)), shape=(vocab_size, vocab_size)
        ).tocsr()
        counts = counts + pairs + pairs.T
    return counts


def ppmi(counts: sp.csr_matrix, context_smoothing: float = 0.75) -> sp.csr_matrix:
    """Positive pointwise mutual information, with smoothed context probabilities."""
    total = counts.sum()
    word = np.asarray(counts.sum(axis=1)).ravel() / max(total, 1e-12)
    context = np.asarray(counts.sum(axis=0)).ravel() ** context_smoothing
    context = context / max(context.sum(), 1e-12)
    coo = counts.tocoo()
    pmi = np.log(coo.data / total / (word[coo.row] * context[coo.col]))
    keep = pmi > 0
    return sp.csr_matrix((pmi[keep], (coo.row[keep], coo.col[keep])), shape=counts.shape)


def svd_vectors(matrix: sp.csr_matrix, dim: int, seed: int, scale: float = 0.1) -> np.ndarray:
    """Rows U * sqrt(S) of a truncated SVD, rescaled to standard deviation `scale`."""
    rank = min(dim, min(matrix.shape) - 1)
    with threadpool_limits(limits=1, user_api="blas"):
        u, s, _ = randomized_svd(matrix, rank, n_iter=5, random_state=seed)
    vectors = np.zeros((matrix.shape[0], dim))
    vectors[:, :rank] = u * np.sqrt(s)
    vectors = vectors * (scale / max(float(vectors.std()), 1e-12))
    vectors[:2] = 0.0  # padding and OOV carry no co-occurrence information
    return vectors.astype(np.float32)


def pretrain(
    ids: np.ndarray, offsets: np.ndarray, vocab_size: int, dim: int, seed: int
) -> np.ndarray:
    """(vocab_size, dim) word vectors from encoded reviews."""
    return svd_vectors(ppmi(cooccurrence(ids, offsets, vocab_size)), dim, seed)
