"""Every dataset either paper uses, with its official source and checksums.

Each file has the official URL (None for the mirror-only JPEG stand-in), the
path it has inside a ``DATA_MIRROR`` folder, and at least one checksum. Where
the mirror's README lists a sha256 of the byte-identical original it is
pinned too; otherwise the publisher's md5 is what can be checked.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class RemoteFile:
    name: str                 # file name under data/raw/<dataset>/
    url: str | None           # official source; None: only a mirror has it
    mirror_path: str          # path relative to DATA_MIRROR
    md5: str | None = None
    sha256: str | None = None


@dataclass(frozen=True)
class DatasetSpec:
    name: str
    title: str
    fmt: str                  # which reader in data/readers.py understands it
    num_classes: int
    files: tuple[RemoteFile, ...]
    note: str = ""
    classes: tuple[str, ...] = ()   # class names in label order (empty: not a classification set)
    sizes: tuple[int, int] = (0, 0)  # examples in the official training and test splits (readers check them)
    # Offline only (DATA_MIRROR set) and only when the mirror lacks the official files: this dataset's
    # files are used in their place, in the same data/raw/<name>/ folder, and named in every table.
    stand_in: str | None = None


_MNIST_URL = "https://ossci-datasets.s3.amazonaws.com/mnist/"
_FASHION_URL = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"
_MULTI30K_URL = "https://raw.githubusercontent.com/multi30k/dataset/master/data/task1/raw/"
_DIGITS = tuple("0123456789")
_FASHION = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
            "Ankle boot")
_EMNIST_BALANCED = _DIGITS + tuple("ABCDEFGHIJKLMNOPQRSTUVWXYZ") + tuple("abdefghnqrt")
_CIFAR10 = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
_CIFAR100 = tuple("""apple aquarium_fish baby bear beaver bed bee beetle bicycle bottle bowl boy bridge bus
butterfly camel can castle caterpillar cattle chair chimpanzee clock cloud cockroach couch crab crocodile cup
dinosaur dolphin elephant flatfish forest fox girl hamster house kangaroo keyboard lamp lawn_mower leopard lion
lizard lobster man maple_tree motorcycle mountain mouse mushroom oak_tree orange orchid otter palm_tree pear
pickup_truck pine_tree plain plate poppy porcupine possum rabbit raccoon ray road rocket rose sea seal shark
shrew skunk skyscraper snail snake spider squirrel streetcar sunflower sweet_pepper table tank telephone
television tiger tractor train trout tulip turtle wardrobe whale willow_tree wolf woman worm""".split())
# Müller's CIFAR protocol: train on 40k of the 50k official training images, report on the other 10k
CIFAR = ("cifar10", "cifar100", "cifar10_jpeg")
CIFAR_HELDOUT = 10_000
_IDX = ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
        "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")


def _idx_files(url: str, mirror_dir: str, md5s, sha256s) -> tuple[RemoteFile, ...]:
    return tuple(RemoteFile(n, url + n, f"{mirror_dir}/raw/{n}", m, s)
                 for n, m, s in zip(_IDX, md5s, sha256s))


REGISTRY: dict[str, DatasetSpec] = {d.name: d for d in [
    DatasetSpec("mnist", "MNIST", "idx", 10, _idx_files(
        _MNIST_URL, "MNIST",
        ["f68b3c2dcbeaaa9fbdd348bbdeb94873", "d53e105ee54ea40749a09fcbcd1e9432",
         "9fb629c4189551a2d022fa330f9573f3", "ec29112dd5afa0611ce80d1b7f02629c"],
        ["440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
         "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
         "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
         "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6"]), classes=_DIGITS, sizes=(60000, 10000)),
    DatasetSpec("fashion_mnist", "Fashion-MNIST", "idx", 10, _idx_files(
        _FASHION_URL, "FashionMNIST",
        ["8d4fb7e6c68d591d4c3dfef9ec88bf0d", "25c81989df183df01b3e8a0aad5dffbe",
         "bef4ecab320f06d8554ea6380940ec79", "bb300cfdad3c16e7a12a480ee83cd310"],
        ["3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",
         "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",
         "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
         "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5"]), classes=_FASHION, sizes=(60000, 10000)),
    DatasetSpec("emnist", "EMNIST (balanced)", "emnist_zip", 47, (
        RemoteFile("gzip.zip", "https://biometrics.nist.gov/cs_links/EMNIST/gzip.zip",
                   "EMNIST/gzip.zip", md5="58c8d27c78d21e728a6bc7b3cc06412e"),),
        note="only the balanced split (112,800 / 18,800) is read from the archive", classes=_EMNIST_BALANCED,
        sizes=(112800, 18800)),
    DatasetSpec("cifar10", "CIFAR-10", "cifar_python", 10, (
        RemoteFile("cifar-10-python.tar.gz", "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",
                   "cifar10/cifar-10-python.tar.gz", md5="c58f30108f718f92721af3b95e74349a"),), classes=_CIFAR10,
        sizes=(50000, 10000), stand_in="cifar10_jpeg"),
    DatasetSpec("cifar100", "CIFAR-100", "cifar_python", 100, (
        RemoteFile("cifar-100-python.tar.gz", "https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz",
                   "cifar100/cifar-100-python.tar.gz", md5="eb9058c3a382ffc7106e4002c42a8d85"),),
                classes=_CIFAR100, sizes=(50000, 10000)),
    DatasetSpec("cifar10_jpeg", "CIFAR-10 (lossy JPEG stand-in)", "image_folder_tar", 10, (
        RemoteFile("cifar10-jpeg.tar.gz", None, "cifar10-jpeg/cifar10-jpeg.tar.gz",
                   sha256="097287809041e0a666355dfce11470ba1b3f2631fe910d8793c716253f10b297"),),
        note="not official: a public JPEG re-encoding of CIFAR-10, used offline as a stand-in "
             "and labelled as such in every table", classes=_CIFAR10, sizes=(50000, 10000)),
    DatasetSpec("cub200", "CUB-200-2011", "cub_tgz", 200, (
        RemoteFile("CUB_200_2011.tgz", "https://data.caltech.edu/records/65de6-vp158/files/CUB_200_2011.tgz",
                   "CUB_200_2011/CUB_200_2011.tgz", md5="97eceeb196236b17998738112f37df78"),),
        sizes=(5994, 5794)),
    DatasetSpec("tiny_imagenet", "Tiny ImageNet", "tiny_imagenet_zip", 200, (
        RemoteFile("tiny-imagenet-200.zip", "http://cs231n.stanford.edu/tiny-imagenet-200.zip",
                   "tiny-imagenet/tiny-imagenet-200.zip", md5="90528d7ca1a48142e341f4ef8d21d0de"),),
        sizes=(100000, 10000)),
    DatasetSpec("multi30k", "Multi30k task 1 (EN-DE)", "multi30k", 0, tuple(
        RemoteFile(f"{split}.{lang}.gz", f"{_MULTI30K_URL}{split}.{lang}.gz",
                   f"multi30k/task1/raw/{split}.{lang}.gz", sha256=sha)
        for (split, lang), sha in {
            ("train", "en"): "d79cfa999dd4c51d2cb42499b6796d5a882c3a8a961923c25a898c90f8bbd56f",
            ("train", "de"): "726e39b2fa9eb9ffb6dc763fb35a179f80fae06ffc5d28b6ace5faa883de28a6",
            ("val", "en"): "14f7d25ddd868909a9213e361768460edcacdd6ab9d1e77b92560dc10c10dc28",
            ("val", "de"): "f0cba2f995189cf5770f29a8a9a537a3ad3f51657ad873405082ff6863a5e75a",
            ("test_2016_flickr", "en"): "611d361c6334bc7246101d48097c13cf5c4413c5befc793cc629934359d532d9",
            ("test_2016_flickr", "de"): "9204244e408ccb38d2a55cfcd344df15005fc42a07a6e55ca6c52b6ababb8cc8",
        }.items())),
]}

# Datasets of the FCN experiments (Table 2, MNIST family), in the order tables list them.
FCN_DATASETS = ("mnist", "fashion_mnist", "emnist")


def source(name: str, raw_dir: Path) -> DatasetSpec:
    """The spec of the files actually in data/raw/<name>/: the dataset's own (preferred), else its stand-in's."""
    spec = get(name)
    if spec.stand_in and not all((raw_dir / f.name).is_file() for f in spec.files):
        alt = get(spec.stand_in)
        if all((raw_dir / f.name).is_file() for f in alt.files):
            return alt
    return spec


def get(name: str) -> DatasetSpec:
    if name not in REGISTRY:
        raise KeyError(f"unknown dataset {name!r}; known: {', '.join(REGISTRY)}")
    return REGISTRY[name]
