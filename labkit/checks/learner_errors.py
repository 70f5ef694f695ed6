"""A learner's error in plain words: what went wrong, and the line of *their* code that failed.

As in Kaggle's learntools, the frames of labkit and of the libraries (TensorFlow, Keras, NumPy,
the standard library) are left out: the learner sees their own line. TensorFlow's raw messages
for the common mistakes (shapes that do not fit a matrix product or broadcasting, mixed dtypes,
``.numpy()`` inside a graph) are translated.
"""

from __future__ import annotations

import functools
import linecache
import os
import re
import site
import sysconfig
import traceback
from pathlib import Path

from labkit.errors import first_line

_LABKIT_DIR = str(Path(__file__).resolve().parent.parent)
_OPERATORS = {"AddV2": "+", "Add": "+", "Sub": "-", "Mul": "*", "RealDiv": "/", "Div": "/"}


def _library_dirs() -> tuple[str, ...]:
    paths = sysconfig.get_paths()
    dirs = {paths[key] for key in ("stdlib", "platstdlib", "purelib", "platlib") if key in paths}
    try:
        dirs.update(site.getsitepackages())
    except AttributeError:  # some virtual environments' site module lacks it
        pass
    return tuple(os.path.realpath(d) for d in dirs)


_LIBRARY_DIRS = _library_dirs()


@functools.lru_cache(maxsize=4096)  # the time limit's trace function asks it on every call
def is_learner_file(filename: str) -> bool:
    """Whether code in ``filename`` is the learner's: a notebook cell or their own file, not
    labkit, a library, or code that TensorFlow's autograph generated."""
    if filename.startswith("<"):
        return filename.startswith("<ipython-input")  # older IPython names cells this way
    if not os.path.isabs(filename) or not filename.endswith(".py"):
        return False  # compiled code (.pyx), or a path TensorFlow shortened
    if Path(filename).name.startswith("__autograph_generated"):
        return False
    path = os.path.realpath(filename)
    return not path.startswith(_LABKIT_DIR) and not path.startswith(_LIBRARY_DIRS)


def _shape(text: str) -> str:
    """'4,5' or '4, 5' -> '(4, 5)'; '3' -> '(3,)'."""
    sizes = [s.strip() for s in text.split(",") if s.strip()]
    return "(" + ", ".join(sizes) + ("," if len(sizes) == 1 else "") + ")"


def _matmul(a: str, b: str) -> str:
    sizes_b = b.split(",")
    inner_a, inner_b = a.split(",")[-1], sizes_b[-2] if len(sizes_b) > 1 else sizes_b[0]
    return (
        f"a matrix product (@ or tf.matmul) of shapes {_shape(a)} and {_shape(b)}: the inner "
        f"sizes ({inner_a} and {inner_b}) must agree; are the operands swapped, or is one of "
        "them transposed?"
    )


def _broadcast(op: str, a: str, b: str) -> str:
    symbol = _OPERATORS.get(op)
    what = f"`{symbol}`" if symbol else op
    return (
        f"{what} on tensors of shapes {_shape(a)} and {_shape(b)}: broadcasting lines the shapes "
        "up from the right, and each pair of sizes must be equal or 1."
    )


def _dtypes(expected: str, got: str, op: str = "") -> str:
    where = f" in {op}" if op else ""
    return (
        f"a {got} tensor meets a {expected} tensor{where}: TensorFlow never converts dtypes "
        "silently; convert one with tf.cast(x, tf.float32) (or make it float from the start)."
    )


# (pattern, explanation) pairs, tried in order on the whole message.
_TRANSLATIONS = [
    (
        r"Matrix size-incompatible: In\[0\]: \[([\d,]+)\], In\[1\]: \[([\d,]+)\]",
        lambda m: _matmul(m[1], m[2]),
    ),
    (
        r"Dimensions must be equal, but are \d+ and \d+ for '\{\{node [^}]*\}\} = "
        r"(\w*MatMul\w*)\[.*?with input shapes: \[([\d,?]+)\], \[([\d,?]+)\]",
        lambda m: _matmul(m[2], m[3]),
    ),
    (
        r"Dimensions must be equal, but are \d+ and \d+ for '\{\{node [^}]*\}\} = "
        r"(\w+)\[.*?with input shapes: \[([\d,?]*)\], \[([\d,?]*)\]",
        lambda m: _broadcast(m[1], m[2], m[3]),
    ),
    (
        r"matmul: Input operand 1 has a mismatch in its core dimension 0.*\(size (\d+) is "
        r"different from (\d+)\)",
        lambda m: (
            f"a matrix product (@) whose inner sizes ({m[2]} and {m[1]}) do not agree; are the "
            "operands swapped, or is one of them transposed?"
        ),
    ),
    (
        r"Incompatible shapes: \[([\d,]*)\] vs\. \[([\d,]*)\](?:.*?\[Op:(\w+)\])?",
        lambda m: _broadcast(m[3] or "", m[1], m[2]),
    ),
    (
        r"operands could not be broadcast together with shapes \(([\d,]*)\) \(([\d,]*)\)",
        lambda m: _broadcast("", m[1], m[2]),
    ),
    (
        r"cannot compute (\w+) as input #\d+\(zero-based\) was expected to be a (\w+) tensor "
        r"but is a (\w+) tensor",
        lambda m: _dtypes(m[2], m[3], _OPERATORS.get(m[1], m[1])),
    ),
    (
        r"Input '\w+' of '(\w+)' Op has type (\w+) that does not match type (\w+)",
        lambda m: _dtypes(m[3], m[2], _OPERATORS.get(m[1], m[1])),
    ),
    (
        r"Value for attr 'T' of (\w+) is not in the list of allowed values.*?\{\{node (\w+)\}\}",
        lambda m: (
            f"{m[2]} does not work on {m[1]} tensors: convert them first, e.g. "
            "tf.cast(x, tf.float32)."
        ),
    ),
    (
        r"'SymbolicTensor' object has no attribute 'numpy'|Cannot convert a symbolic tf\.Tensor",
        lambda m: (
            "inside tf.function a tensor has no value yet, so .numpy() (and NumPy functions) "
            "cannot be used there: use TensorFlow operations (tf.exp, tf.reduce_sum, ...)."
        ),
    ),
]


def _tensorflow_prefix_and_suffix(text: str) -> str:
    """Drop TensorFlow's `{{function_node ...}}` prefix and `[Op:X] name:` suffix."""
    text = re.sub(r"^\{\{function_node [^}]*\}\}\s*", "", text)
    return re.sub(r"\s*\[Op:\w+\]( name: \S*)?\s*$", "", text).strip()


def explain(exc: BaseException) -> str:
    """The error's message in plain words: translated when the cause is a common one."""
    text = str(exc)
    user_code = _user_code_error(text)
    if user_code is not None:
        text = user_code
    for pattern, explanation in _TRANSLATIONS:
        match = re.search(pattern, text, flags=re.DOTALL)
        if match:
            return explanation(match)
    return _tensorflow_prefix_and_suffix(first_line(text))


def _user_code_error(text: str) -> str | None:
    """The last line of a graph error ('in user code: ... ValueError: ...'), its cause."""
    if not text.lstrip().startswith("in user code:"):
        return None
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return re.sub(r"^\w+(Error|Exception): ", "", lines[-1]) if lines else None


def learner_line(exc: BaseException, skip: int = 0) -> str | None:
    """'line N, in name: code' for the innermost frame of the learner's own code, if any (the
    outermost ``skip`` frames of the traceback left out)."""
    frames = [
        (f.filename, f.lineno, f.name, f.line or "")
        for f in traceback.extract_tb(exc.__traceback__)[skip:]
    ]
    # A graph error (tf.function) lists the learner's frames in its message instead.
    for match in re.finditer(r'File "([^"]+)", line (\d+), in (\w+)[^\n]*\n\s*([^\n]*)', str(exc)):
        frames.append((match[1], int(match[2]), match[3], match[4]))
    mine = [frame for frame in frames if frame[1] and is_learner_file(frame[0])]
    if not mine:
        return None
    filename, lineno, name, code = mine[-1]
    code = (code or linecache.getline(filename, lineno)).strip()
    return f"line {lineno}, in {name}: {code}" if code else f"line {lineno}, in {name}"


# The exceptions that stop a program rather than report an error, and how a learner raises each.
_STOPPING_HOW = {
    SystemExit: "called sys.exit() (or exit())",
    KeyboardInterrupt: "raised KeyboardInterrupt (or was interrupted)",
    GeneratorExit: "raised GeneratorExit",
}
STOPPING = tuple(_STOPPING_HOW)


def stopping(what: str, exc: BaseException) -> str:
    """The verdict's words when the learner's code raised one of ``STOPPING``."""
    how = next(text for kind, text in _STOPPING_HOW.items() if isinstance(exc, kind))
    line = learner_line(exc)
    where = f"\nYour line: {line}" if line else ""
    return (
        f"{what} {how}, which stops the whole program instead of giving a result: return the "
        f"value, or raise an ordinary error (ValueError, ...).{where}"
    )
