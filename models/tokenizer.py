"""GPT-2's byte-level BPE tokenizer (Radford et al. 2019), without dependencies.

* `bytes_to_unicode`: GPT-2's reversible map from the 256 byte values to printable
  characters. In GPT-2's vocab.json the 256 single-byte tokens have ids 0..255 in
  this map's order, so without vocabulary files a byte b is encoded as the id
  `BYTE_ID[b]` (its position in that order): 'A' -> 32, ' ' -> 220, '!' -> 0.
* The pre-tokenizer is GPT-2's regular expression

      's|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+

  implemented as a hand-written scanner (Python's `re` has no \\p{L}; the `regex`
  package is not a dependency). Letters are the Unicode categories L*, numbers N*,
  whitespace is `str.isspace`, exactly what the alternatives above test, tried in
  the same order with the same greedy/backtracking outcome.
* BPE merges by rank as in GPT-2's encoder.py.
"""
from __future__ import annotations

import functools
import json
import os
import unicodedata

from fpsem.errors import FpsemError


@functools.lru_cache(maxsize=1)
def bytes_to_unicode():
    bs = (list(range(ord("!"), ord("~") + 1)) + list(range(ord("\xa1"), ord("\xac") + 1))
          + list(range(ord("\xae"), ord("\xff") + 1)))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, map(chr, cs)))


def _byte_order():
    return list(bytes_to_unicode().keys())


#: byte value -> GPT-2 token id of the single-byte token
BYTE_ID = {b: i for i, b in enumerate(_byte_order())}
#: GPT-2 token id (< 256) -> byte value
ID_BYTE = {i: b for b, i in BYTE_ID.items()}

_CONTRACTIONS = ("'s", "'t", "'re", "'ve", "'m", "'ll", "'d")


def _is_l(ch):
    return unicodedata.category(ch)[0] == "L"


def _is_n(ch):
    return unicodedata.category(ch)[0] == "N"


def _is_other(ch):
    return not (ch.isspace() or _is_l(ch) or _is_n(ch))


def pretokenize(text):
    """Split text as GPT-2's pre-tokenizer regex does (see module docstring)."""
    out = []
    i, n = 0, len(text)
    while i < n:
        for con in _CONTRACTIONS:
            if text.startswith(con, i):
                out.append(con)
                i += len(con)
                break
        else:
            matched = False
            for cls in (_is_l, _is_n, _is_other):
                j = i + 1 if text[i] == " " and i + 1 < n and cls(text[i + 1]) else i
                if cls(text[j]):
                    k = j + 1
                    while k < n and cls(text[k]):
                        k += 1
                    out.append(text[i:k])
                    i = k
                    matched = True
                    break
            if matched:
                continue
            # whitespace: \s+(?!\S) then \s+
            k = i
            while k < n and text[k].isspace():
                k += 1
            if k < n and k - 1 > i:
                k -= 1  # leave the last space to prefix the next word
            out.append(text[i:k])
            i = k
    return out


class ByteTokenizer:
    """No vocabulary files: each UTF-8 byte is GPT-2's single-byte token."""

    has_vocab = False

    def encode(self, text):
        return [BYTE_ID[b] for b in text.encode("utf-8")]

    def token_str(self, i):
        i = int(i)
        if i in ID_BYTE:
            return bytes([ID_BYTE[i]]).decode("utf-8", errors="backslashreplace")
        return f"<{i}>"

    def decode(self, ids):
        out, buf = [], bytearray()
        for i in ids:
            i = int(i)
            if i in ID_BYTE:
                buf.append(ID_BYTE[i])
            else:
                out.append(buf.decode("utf-8", errors="replace"))
                buf = bytearray()
                out.append(f"<{i}>")
        out.append(buf.decode("utf-8", errors="replace"))
        return "".join(out)


class BPETokenizer:
    """GPT-2's byte-level BPE from vocab.json (token -> id) and merges.txt."""

    has_vocab = True

    def __init__(self, vocab_path, merges_path):
        try:
            with open(vocab_path, encoding="utf-8") as f:
                self.encoder = json.load(f)
            with open(merges_path, encoding="utf-8") as f:
                lines = f.read().split("\n")
        except OSError as e:
            raise FpsemError(f"tokenizer: cannot read {e.filename}: {e.strerror}") from None
        except json.JSONDecodeError as e:
            raise FpsemError(f"tokenizer: {vocab_path} is not valid JSON ({e.msg})") from None
        except UnicodeDecodeError as e:
            raise FpsemError(f"tokenizer: {vocab_path} or {merges_path} is not UTF-8 text ({e.reason})") from None
        if not isinstance(self.encoder, dict):
            raise FpsemError(f"tokenizer: {vocab_path} must map tokens to ids")
        bad = next((k for k, v in self.encoder.items()
                    if type(v) is not int or v < 0), None)
        if bad is not None:
            raise FpsemError(f"tokenizer: {vocab_path}: the id of {bad!r} must be a non-negative integer, "
                             f"got {self.encoder[bad]!r}")
        if len(set(self.encoder.values())) != len(self.encoder):
            raise FpsemError(f"tokenizer: {vocab_path}: two tokens share an id")
        merges = []
        for ln in lines:
            if not ln.strip() or ln.startswith("#version"):
                continue
            parts = ln.split()
            if len(parts) != 2:
                raise FpsemError(f"tokenizer: malformed merge line {ln!r} in {merges_path}")
            merges.append(tuple(parts))
        self.ranks = {m: i for i, m in enumerate(merges)}
        self.decoder = {int(v): k for k, v in self.encoder.items()}
        self.byte_enc = bytes_to_unicode()
        self.byte_dec = {v: k for k, v in self.byte_enc.items()}
        self._cache = {}

    @classmethod
    def from_dir(cls, path):
        v, m = os.path.join(path, "vocab.json"), os.path.join(path, "merges.txt")
        if os.path.isfile(v) and os.path.isfile(m):
            return cls(v, m)
        return None

    def _bpe(self, token):
        if token in self._cache:
            return self._cache[token]
        word = tuple(token)
        while len(word) > 1:
            pairs = {(word[i], word[i + 1]) for i in range(len(word) - 1)}
            best = min(pairs, key=lambda p: self.ranks.get(p, float("inf")))
            if best not in self.ranks:
                break
            a, b = best
            new, i = [], 0
            while i < len(word):
                if i < len(word) - 1 and word[i] == a and word[i + 1] == b:
                    new.append(a + b)
                    i += 2
                else:
                    new.append(word[i])
                    i += 1
            word = tuple(new)
        self._cache[token] = word
        return word

    def encode(self, text):
        ids = []
        for piece in pretokenize(text):
            u = "".join(self.byte_enc[b] for b in piece.encode("utf-8"))
            for tok in self._bpe(u):
                if tok not in self.encoder:
                    raise FpsemError(f"tokenizer: token {tok!r} is not in the vocabulary")
                ids.append(int(self.encoder[tok]))
        return ids

    def _bytes(self, i):
        tok = self.decoder.get(int(i))
        if tok is None:
            return None
        return bytes(self.byte_dec[ch] for ch in tok if ch in self.byte_dec)

    def token_str(self, i):
        b = self._bytes(i)
        return f"<{int(i)}>" if b is None else b.decode("utf-8", errors="backslashreplace")

    def decode(self, ids):
        out = bytearray()
        for i in ids:
            b = self._bytes(i)
            out += b if b is not None else f"<{int(i)}>".encode()
        return out.decode("utf-8", errors="replace")


def get_tokenizer(vocab=None, merges=None, directory=None):
    """BPE when vocab and merges are given (or found in `directory`), else bytes."""
    if (vocab is None) != (merges is None):
        raise FpsemError("tokenizer: give both --vocab and --merges, or neither")
    if vocab is not None:
        return BPETokenizer(vocab, merges)
    if directory is not None and os.path.isdir(directory):
        t = BPETokenizer.from_dir(directory)
        if t is not None:
            return t
    return ByteTokenizer()


#: the built-in prompt for --tokens N (repeated when N exceeds it)
BUILTIN_PROMPT = (
    "In floating point, the same network computes a slightly different function on every "
    "machine. The order of a sum, a fused multiply-add, a flushed subnormal: each changes "
    "the last bits, and sometimes the next word. Here is what the model was asked to say: "
    "The quick brown fox jumps over the lazy dog, and then it asks why the logits moved."
)
