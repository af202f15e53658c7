"""What the report scripts share (scripts/plot_goodput.py, scripts/report_pair.py): their command line
and the rewriting of a generated block in a Markdown file. Standard library only."""
import argparse


def report_parser(description, command):
    """RAW [--svg FILE] [--markdown FILE] [--date D] [--machine M] [--engine E] [--command C]."""
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("raw")
    ap.add_argument("--svg")
    ap.add_argument("--markdown")
    ap.add_argument("--date", default="")
    ap.add_argument("--machine", default="")
    ap.add_argument("--engine", default="unknown")
    ap.add_argument("--command", default=command)
    return ap


def update_markdown(path, block, begin, end, title):
    """Replaces the part of `path` from `begin` to `end` with `block` (which starts with `begin` and ends
    with `end`), so that hand-written text around it survives; appends the block if the markers are
    missing, and creates the file (with `title`) if it is."""
    try:
        text = open(path, encoding="utf-8").read()
    except FileNotFoundError:
        text = f"# {title}\n\n{begin}\n{end}\n"
    if begin not in text or end not in text:
        text = text.rstrip("\n") + "\n\n" + begin + "\n" + end + "\n"
    head, rest = text.split(begin, 1)
    _, tail = rest.split(end, 1)
    with open(path, "w", encoding="utf-8") as f:
        f.write(head + block + tail)
