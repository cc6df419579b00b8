"""WordPiece throughput and training time, symformer (pure Python) beside Hugging Face ``tokenizers``.

Run ``python benchmarks/bench_wordpiece.py [--megabytes 1.0] [--vocab-size 8000]``. Both libraries
see the same generated corpus (Zipf-distributed words, capitals, punctuation, accents, a little CJK)
and tokenize with the same vocabulary, trained here by symformer. ``tokenizers`` trains with its
own WordPieceTrainer, which runs BPE: the training row compares times, not algorithms.
Targets: tokenizing at least 1 MB/s, training on 1 MB in under 60 s.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from symformer.tokenizer.train import train_wordpiece  # noqa: E402
from symformer.tokenizer.wordpiece import WordPiece  # noqa: E402

SYLLABLES = "ka lo mi ne ru ta shi po an er in on st th re ing ed ly tion ment que ça né über".split()
CJK = "的一是不了人我在有他这为之大来以个中上们"
PUNCTUATION = [",", ".", ";", ":", "!", "?", "'s", ")", "\""]


def generate_corpus(megabytes: float, seed: int = 7) -> str:
    """A deterministic text of about ``megabytes`` MB (UTF-8) with a Zipf word distribution."""
    rng = random.Random(seed)
    types = ["".join(rng.choices(SYLLABLES, k=rng.randint(1, 5))) for _ in range(30_000)]
    weights = [1 / (rank + 1) ** 1.1 for rank in range(len(types))]
    target = int(megabytes * 1_000_000)
    lines, size = [], 0
    while size < target:
        words = rng.choices(types, weights, k=rng.randint(5, 25))
        words[0] = words[0].capitalize()
        for i in range(len(words)):
            roll = rng.random()
            if roll < 0.08:
                words[i] += rng.choice(PUNCTUATION)
            elif roll < 0.10:
                words[i] = words[i].upper()
            elif roll < 0.11:
                words[i] = "".join(rng.choices(CJK, k=rng.randint(2, 6)))
        line = " ".join(words) + "."
        lines.append(line)
        size += len(line.encode()) + 1
    return "\n".join(lines)


def best_of(repeats: int, run) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return min(times)


def hf_tokenizer(vocab: dict[str, int]):
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers

    tokenizer = Tokenizer(models.WordPiece(vocab=vocab, unk_token="[UNK]", max_input_chars_per_word=100))
    tokenizer.normalizer = normalizers.BertNormalizer(
        clean_text=True, handle_chinese_chars=True, strip_accents=None, lowercase=True
    )
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    return tokenizer


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--megabytes", type=float, default=1.0)
    parser.add_argument("--vocab-size", type=int, default=8000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)

    text = generate_corpus(args.megabytes)
    megabytes = len(text.encode()) / 1e6
    lines = text.split("\n")

    start = time.perf_counter()
    training = train_wordpiece(lines, args.vocab_size)
    train_seconds = time.perf_counter() - start
    vocab = {token: index for index, token in enumerate(training.vocab)}

    # A fresh WordPiece per run: the cold per-word memo is part of the cost being measured.
    ours = best_of(args.repeats, lambda: WordPiece(vocab).tokenize(text))
    rows = [("train (symformer score / tokenizers BPE)", train_seconds, None)]
    try:
        from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, trainers
    except ImportError:
        rows.append(("tokenize (tokenizers not installed)", ours, None))
    else:
        hf = hf_tokenizer(vocab)
        same = WordPiece(vocab).tokenize(text) == hf.encode(text, add_special_tokens=False).tokens
        theirs = best_of(args.repeats, lambda: hf_tokenizer(vocab).encode(text, add_special_tokens=False))
        trainer_tokenizer = Tokenizer(models.WordPiece(unk_token="[UNK]"))
        trainer_tokenizer.normalizer = normalizers.BertNormalizer(lowercase=True)
        trainer_tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
        trainer = trainers.WordPieceTrainer(
            vocab_size=args.vocab_size,
            special_tokens=["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"],
            show_progress=False,
        )
        start = time.perf_counter()
        trainer_tokenizer.train_from_iterator(lines, trainer=trainer)
        rows[0] = (rows[0][0], train_seconds, time.perf_counter() - start)
        rows.append((f"tokenize, one string (same tokens: {same})", ours, theirs))

        def ours_line_by_line() -> None:
            wordpiece = WordPiece(vocab)
            for line in lines:
                wordpiece.tokenize(line)

        ours_lines = best_of(args.repeats, ours_line_by_line)
        theirs_lines = best_of(
            args.repeats, lambda: hf_tokenizer(vocab).encode_batch(lines, add_special_tokens=False)
        )
        rows.append(("tokenize, line by line (tokenizers: batch)", ours_lines, theirs_lines))

    print(f"corpus: {megabytes:.2f} MB, {len(lines)} lines; vocabulary: {len(training.vocab)} tokens")
    print(f"{'what':<44} {'symformer s':>12} {'tokenizers s':>13} {'ratio':>7} {'symformer MB/s':>15}")
    for what, ours_seconds, their_seconds in rows:
        theirs_text = f"{their_seconds:13.3f}" if their_seconds is not None else f"{'-':>13}"
        ratio = f"{ours_seconds / their_seconds:7.1f}" if their_seconds else f"{'-':>7}"
        print(f"{what:<44} {ours_seconds:12.3f} {theirs_text} {ratio} {megabytes / ours_seconds:15.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
