"""A grader's map: every item of the three handouts and the report section that answers it.

:data:`ITEMS` lists each theory question, programming part, exercise bullet, objective and
methodology point of the handouts in ``../shared/assignments/``, with a short verbatim quote
of the handout (so a test can check it against the text), the notebook that answers it, the
start of the heading of that notebook's section and, where there is one, the key of the
headline result the notebook logs (``run.log``). ``answers/index.html`` turns the map into
links to the HTML reports (:func:`heading_anchors` finds the anchors nbconvert wrote).
"""

from __future__ import annotations

from dataclasses import dataclass
from html.parser import HTMLParser

CS577 = "CS 577 · Assignment 4 (cats vs dogs, CIFAR-10)"
BSC = "SBU BSc · Assignment 3 (theory, Architectural Heritage Elements)"
MSC = "SBU MSc · Assignment 3 (theory, traffic signs)"
HANDOUT_FILES = {
    CS577: "cs577-assignment4-cats-dogs-cifar10.txt",
    BSC: "sbu-bsc-assignment3-ahe.txt",
    MSC: "sbu-msc-assignment3-traffic-signs.txt",
}


@dataclass(frozen=True)
class Item:
    """One thing a handout asks for, and where the suite answers it.

    Attributes:
        handout: one of :data:`CS577`, :data:`BSC`, :data:`MSC`.
        item: its label in the handout (``Q7``, ``1(c)``, ``Exercise 6 · grayscale``, ...).
        quote: a few words of the handout's own text for this item (checked by a test).
        notebook: the notebook stem whose report answers it.
        heading: the start of the heading of the answering section in that notebook.
        result: the key of the headline result in the notebook's logged metrics, if any; a
            ``/`` walks into a dict (``test_accuracy/basic CNN``).
    """

    handout: str
    item: str
    quote: str
    notebook: str
    heading: str
    result: str | None = None


TH, CATS, CIFAR, SIGNS, AHE = ("01_theory", "02_cats_vs_dogs", "03_cifar10_blocks",
                               "04_traffic_signs", "05_architectural_heritage")

_CS577_THEORY = [
    ("Q1", "without zero padding", "Q1–Q3, Q11 ·"),
    ("Q2", "Repeat the previous question with zero padding", "Q1–Q3, Q11 ·"),
    ("Q3", "dilation rate of 2", "Q1–Q3, Q11 ·"),
    ("Q4", "template matching interpretation", "Q4 ·"),
    ("Q5", "multiple scale analysis", "Q5 ·"),
    ("Q6", "compensate for spatial resolution decrease", "Q6 ·"),
    ("Q7", "size of the resulting tensor", "Q7, Q8 ·"),
    ("Q8", "using a stride of 2", "Q7, Q8 ·"),
    ("Q9", "reduced using a", "Q9 ·"),
    ("Q10", "difference between early and deeper", "Q10 ·"),
    ("Q11", "max pooling with a", "Q1–Q3, Q11 ·"),
    ("Q12", "purpose of pooling", "Q12 ·"),
    ("Q13", "purpose of data augmentation", "Q13 ·"),
    ("Q14", "purpose of transfer learning", "Q14 ·"),
    ("Q15", "freezing the coefficients", "Q15 ·"),
    ("Q16", "can be fine-tuned", "Q16 ·"),
    ("Q17", "purpose of inception blocks", "Q17 ·"),
    ("Q18", "advantage of residual blocks", "Q18 ·"),
    ("Q19", "intermediate activations", "Q19 ·"),
    ("Q20", "gradient ascent", "Q20 ·"),
    ("Q21", "heatmap of class activation", "Q21 ·"),
]
_CS577_PROGRAMMING = [
    ("1(a)", "2000 dogs and 2000 cat images", CATS, "(a) The data", None),
    ("1(b)", "testing data generators", CATS, "(b) Input pipelines", None),
    ("1(c)", "convolution, pooling, and normalization layers, followed by one or more dense",
     CATS, "(c, d) A convnet", None),
    ("1(d)", "tune hyperparameters as needed", CATS, "(c, d) A convnet", "scratch_test_accuracy"),
    ("1(e)", "Visualize the activation", CATS, "(e) What the layers", None),
    ("1(f)", "maximize their response", CATS, "(f) The input each filter", None),
    ("1(g)", "pre-trained convolution base of VGG16", CATS, "(g) An ImageNet", None),
    ("1(h)", "fine tune the convolution base", CATS, "(h) Fine-tuning", None),
    ("1(i)", "perform data augmentation", CATS, "(i) Data augmentation", "best_test_accuracy"),
    ("2(a)", "load the pickled data", CIFAR, "(a) Reading", None),
    ("2(b)", "single dense layer", CIFAR, "(b) A basic CNN", None),
    ("2(c)", "tune hyper parameters as needed", CIFAR, "(c) Tuning", None),
    ("2(d)", "Add one or two inception blocks", CIFAR, "(d) Inception blocks",
     "test_accuracy/inception blocks"),
    ("2(e)", "add one or two residual blocks", CIFAR, "The comparison",
     "test_accuracy/residual blocks"),
]
_BSC = [
    ("Exercise 1", "gradient accumulation", TH, "Gradient accumulation", None),
    ("Exercise 2", "backpropagation details", TH, "Backpropagation in convolutional", None),
    ("Exercise 3", "benefits of the pooling layers", TH, "Pooling layers", None),
    ("Exercise 4", "concept of transfer learning", TH, "Transfer learning in CNNs", None),
    ("Exercise 5", "Face verification requires", TH, "True or false?", None),
    ("Objective · CNN model training", "CNN Model Training", AHE, "1 · The CNN",
     "test_accuracy"),
    ("Objective · deconvolution visualisation", "Deconvolution Visualization", AHE,
     "2 · Deconvnet", None),
    ("Objective · image generation for specific classes", "Image Generation for Specific Classes",
     AHE, "3 · An image for each class", "class_image_agreement"),
    ("Methodology · data preprocessing", "Data Preprocessing", AHE, "Data and preprocessing",
     None),
    ("Methodology · model building", "Model Building", AHE, "1 · The CNN", None),
    ("Methodology · training", "Training:", AHE, "1 · The CNN", "train_seconds"),
    ("Methodology · evaluation", "Evaluation:", AHE, "1 · The CNN", "test_macro_f1"),
    ("Methodology · optimisation", "Optimization:", AHE, "1 · The CNN", None),
]
_MSC = [
    ("Exercise 1", "GPU runs out of memory", TH, "GPU out of memory", None),
    ("Exercise 2", "gradient accumulation", TH, "Gradient accumulation", None),
    ("Exercise 3", "backpropagation details", TH, "Backpropagation in convolutional", None),
    ("Exercise 4", "Are you willing to use these layers", TH, "Pooling layers", None),
    ("Exercise 5", "Face verification requires", TH, "True or false?", None),
    ("Exercise 6 · evaluation pipeline", "decent evaluation pipeline", SIGNS,
     "1 · One evaluation pipeline", "test_macro_f1"),
    ("Exercise 6 · custom CNN", "custom CNN model", SIGNS, "6 · The final custom CNN",
     "final_cnn_test_accuracy"),
    ("Exercise 6 · transfer learning", "various pre-trained models", SIGNS, "7 · Transfer learning",
     None),
    ("Exercise 6 · mispredicted signs", "usually mispredicted", SIGNS, "8 · Which signs", None),
    ("Exercise 6 · grayscale", "grayscale images", SIGNS, "4 · Grayscale",
     "chosen_preprocessing"),
    ("Exercise 6 · class balance", "data is balanced", SIGNS, "5 · Class imbalance",
     "chosen_balance"),
    ("Exercise 6 · layer outputs", "different layers of your network", SIGNS, "9 · What the layers",
     None),
    ("Exercise 6 · illumination and pre-processing", "illumination, aspect ratio", SIGNS,
     "2 · Looking at the data", None),
]

ITEMS: tuple[Item, ...] = (
    *(Item(CS577, i, q, TH, h) for i, q, h in _CS577_THEORY),
    *(Item(CS577, *row) for row in _CS577_PROGRAMMING),
    *(Item(BSC, *row) for row in _BSC),
    *(Item(MSC, *row) for row in _MSC),
)


def result_of(metrics: dict, key: str | None) -> object | None:
    """The logged value ``key`` names (``a/b`` walks into a dict), or None."""
    if key is None:
        return None
    value: object = metrics
    for part in key.split("/"):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


class _Headings(HTMLParser):
    """Collects ``(id, text)`` of the h1-h6 elements of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[tuple[str, str]] = []
        self._open: tuple[str, list[str]] | None = None

    def handle_starttag(self, tag, attrs):
        if tag in {"h1", "h2", "h3", "h4", "h5", "h6"}:
            self._open = (dict(attrs).get("id") or "", [])

    def handle_data(self, data):
        if self._open is not None:
            self._open[1].append(data)

    def handle_endtag(self, tag):
        if tag in {"h1", "h2", "h3", "h4", "h5", "h6"} and self._open is not None:
            anchor, text = self._open
            self.found.append((anchor, "".join(text).replace("¶", "").strip()))
            self._open = None


def heading_anchors(page: str) -> list[tuple[str, str]]:
    """``(anchor id, heading text)`` of every heading of an nbconvert HTML page, in order."""
    parser = _Headings()
    parser.feed(page)
    return parser.found


def find_anchor(page: str, heading: str) -> str | None:
    """The anchor of the first heading that starts with ``heading``, or None."""
    return next((a for a, text in heading_anchors(page) if a and text.startswith(heading)), None)
