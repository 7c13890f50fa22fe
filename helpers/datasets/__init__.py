"""One loader per dataset, each reading the official on-disk format.

Every loader resolves the data folder the same way (explicit path, ``DATA_DIR``,
``<repo>/data``, then a download where an official URL exists) and returns a
:class:`~helpers.datasets.base.Dataset` that keeps its class names.
"""

from .ahe import load_ahe
from .base import ArraySplit, Dataset, FileSplit, stratified_holdout, subsample_per_class
from .cats_dogs import build_small_split, load_cats_dogs
from .cifar10 import load_cifar10
from .folders import check_image, scan_split
from .gtsrb import load_gtsrb

LOADERS = {
    "cats_dogs": load_cats_dogs,
    "cifar10": load_cifar10,
    "gtsrb": load_gtsrb,
    "ahe": load_ahe,
}

__all__ = [
    "LOADERS",
    "ArraySplit",
    "Dataset",
    "FileSplit",
    "build_small_split",
    "check_image",
    "load_ahe",
    "load_cats_dogs",
    "load_cifar10",
    "load_gtsrb",
    "scan_split",
    "stratified_holdout",
    "subsample_per_class",
]
