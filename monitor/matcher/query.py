"""The query language: lexer and recursive-descent parser, with positions.

Grammar (AND binds tighter than OR; NEAR tighter than AND):

    query   := or
    or      := and ("OR" and)*
    and     := unary (("AND" unary) | ("NOT" unary))*     a NOT b = a AND NOT b
    unary   := "NOT" unary | near
    near    := primary ("NEAR/" n primary)?    terms or phrases, at most n words between
    primary := "(" or ")" | TERM | "PHRASE"

Operators are upper case; `and`, `or` are ordinary words. A TERM is a bare
word (`Renault`, `CFE-CGC` reads as the phrase "cfe cgc"), a wildcard ends in
`*` (`liquid*`, at least 3 letters before it). Two terms side by side are an
error rather than a guess: the user meant a phrase or an operator.

A query is at most MAX_QUERY characters, a word MAX_WORD letters, a phrase
MAX_PHRASE words (limits below, with why). Every syntax error raises
RuleError(where, key, message, position) with the 0-based offset in the
query, and nothing else escapes `parse_query`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from monitor.errors import RuleError
from monitor.matcher.fold import fold, tokens
from monitor.matcher.nodes import FUZZY_MIN_LETTERS, And, Near, Node, Not, Or, Pattern, Word

MIN_WILDCARD = 3
MAX_DEPTH = 50
# Load-time limits (issue 14): a rule is written by a person, and nothing a
# person writes comes near them, but a rule file can come from anywhere. A
# 1,000,000-letter wildcard passed `check` and crashed the process at the next
# reload (SIGSEGV inside pyahocorasick, which survives 100,000-letter words).
MAX_QUERY = 10_000  # characters of a query or of one any/all/not entry
MAX_WORD = 100  # letters of one folded word ("pneumonoultramicroscopic..." has 45)
MAX_PHRASE = 32  # words of one phrase
MAX_NEAR = 1000  # NEAR/n: at most this many words between the two terms
_LEXEME = re.compile(r'\s+|[()]|["“”][^"“”]*["“”]?|[^\s()"“”]+')
# At most 5 digits: a longer number is out of range anyway, and int() of
# 5,000 digits raises ValueError (Python's integer-string limit).
_NEAR = re.compile(r"NEAR(?:/(\d{1,5}))?\Z")
_OPERATORS = {"AND", "OR", "NOT"}


@dataclass(frozen=True, slots=True)
class Lexeme:
    kind: str  # "(" ")" AND OR NOT NEAR TERM PHRASE END
    text: str
    pos: int
    distance: int = 0


class _Syntax(Exception):
    def __init__(self, message: str, pos: int) -> None:
        super().__init__(message)
        self.message, self.pos = message, pos


def parse_query(query: str, *, fuzzy: int | None = None, where: str = "",
                key: str = "query") -> Node:
    """The compiled tree of `query`; RuleError(where, key, ...) if it is bad."""
    try:
        check_length(query)
        return _Parser(query, fuzzy).parse()
    except _Syntax as exc:
        raise RuleError(where, key, exc.message, exc.pos) from None


def check_length(text: str) -> None:
    """Raise _Syntax when a query or entry is longer than MAX_QUERY."""
    if len(text) > MAX_QUERY:
        raise _Syntax(f"longer than {MAX_QUERY} characters", MAX_QUERY)


def make_pattern(raw: str, label: str, pos: int, fuzzy: int | None) -> Pattern:
    """A pattern from whitespace-separated words, each possibly ending in
    `*`; raises _Syntax (position relative to the query) when it is bad."""
    found: list[Word] = []
    for part in re.finditer(r"\S+", raw):
        found.extend(_words(part.group(), pos + part.start(), fuzzy))
        if len(found) > MAX_PHRASE:
            raise _Syntax(f"a phrase has at most {MAX_PHRASE} words", pos + part.start())
    if not found:
        if label.startswith('"'):
            raise _Syntax("empty phrase", max(pos - 1, 0))
        raise _Syntax("a term needs letters or digits", pos)
    return Pattern(label, found, pos)


def _words(raw: str, pos: int, fuzzy: int | None) -> list[Word]:
    prefix = raw.endswith("*")
    body = raw.rstrip("*") if prefix else raw
    if "*" in body:
        raise _Syntax("'*' is only allowed at the end of a word", pos + body.index("*"))
    folded = tokens(fold(body))
    if any(len(word) > MAX_WORD for word in folded):
        raise _Syntax(f"a word has at most {MAX_WORD} letters", pos)
    if prefix and (not folded or len(folded[-1]) < MIN_WILDCARD):
        raise _Syntax(f"a wildcard needs at least {MIN_WILDCARD} letters before '*'", pos)
    return [Word(text, prefix and i == len(folded) - 1,
                 fuzzy if len(text) >= FUZZY_MIN_LETTERS and not prefix else None)
            for i, text in enumerate(folded)]


class _Parser:
    def __init__(self, query: str, fuzzy: int | None) -> None:
        self.fuzzy, self.lexemes, self.at, self.depth = fuzzy, _lex(query), 0, 0

    def parse(self) -> Node:
        if self.peek.kind == "END":
            raise _Syntax("empty query", 0)
        node = self.parse_or()
        lexeme = self.peek
        if lexeme.kind == ")":
            raise _Syntax("unbalanced parenthesis: ')' without '('", lexeme.pos)
        if lexeme.kind != "END":
            raise self.missing_operator(lexeme)
        return node

    @property
    def peek(self) -> Lexeme:
        return self.lexemes[self.at]

    def take(self) -> Lexeme:
        lexeme = self.lexemes[self.at]
        self.at += 1
        return lexeme

    def parse_or(self) -> Node:
        children = [self.parse_and()]
        while self.peek.kind == "OR":
            self.take()
            children.append(self.parse_and())
        return children[0] if len(children) == 1 else Or(children, children[0].pos)

    def parse_and(self) -> Node:
        children = [self.parse_unary()]
        while self.peek.kind in ("AND", "NOT"):
            if self.take().kind == "NOT":
                self.at -= 1  # `a NOT b`: the NOT belongs to the right operand
            children.append(self.parse_unary())
        if self.peek.kind in ("TERM", "PHRASE", "("):
            raise self.missing_operator(self.peek)
        return children[0] if len(children) == 1 else And(children, children[0].pos)

    def parse_unary(self) -> Node:
        if self.peek.kind == "NOT":
            lexeme = self.take()
            return Not(self.nested(self.parse_unary), lexeme.pos)
        return self.parse_near()

    def parse_near(self) -> Node:
        left = self.parse_primary()
        if self.peek.kind != "NEAR":
            return left
        near = self.take()
        right = self.parse_primary()
        if not isinstance(left, Pattern) or not isinstance(right, Pattern):
            raise _Syntax("NEAR joins two terms or phrases, not groups", near.pos)
        if self.peek.kind == "NEAR":
            raise _Syntax("NEAR joins exactly two terms; combine NEAR pairs with AND",
                          self.peek.pos)
        return Near(left, right, near.distance, left.pos)

    def parse_primary(self) -> Node:
        lexeme = self.take()
        if lexeme.kind == "(":
            if self.peek.kind == ")":
                raise _Syntax("empty parentheses", lexeme.pos)
            node = self.nested(self.parse_or)
            if self.take().kind != ")":
                raise _Syntax("unbalanced parenthesis: '(' is never closed", lexeme.pos)
            return node
        if lexeme.kind == "TERM":
            return make_pattern(lexeme.text, lexeme.text, lexeme.pos, self.fuzzy)
        if lexeme.kind == "PHRASE":
            return make_pattern(lexeme.text[1:-1], lexeme.text, lexeme.pos + 1, self.fuzzy)
        self.at -= 1
        raise self.missing_term(lexeme)

    def nested(self, parse: Callable[[], Node]) -> Node:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise _Syntax(f"nested deeper than {MAX_DEPTH} levels", self.peek.pos)
        node = parse()
        self.depth -= 1
        return node

    def missing_term(self, lexeme: Lexeme) -> _Syntax:
        before = self.lexemes[self.at - 1] if self.at else None
        if before is not None and before.kind in ("AND", "OR", "NOT", "NEAR"):
            return _Syntax(f"{before.text} needs a term after it", before.pos)
        if lexeme.kind in ("AND", "OR", "NEAR"):
            return _Syntax(f"{lexeme.text} needs a term before it", lexeme.pos)
        if lexeme.kind == ")":
            return _Syntax("unbalanced parenthesis: ')' without '('", lexeme.pos)
        return _Syntax("a term is missing", lexeme.pos)

    @staticmethod
    def missing_operator(lexeme: Lexeme) -> _Syntax:
        return _Syntax("two terms without an operator between them: join them with AND "
                       "or OR (upper case), or quote them as a phrase", lexeme.pos)


def _lex(query: str) -> list[Lexeme]:
    found: list[Lexeme] = []
    for match in _LEXEME.finditer(query):
        text, pos = match.group(), match.start()
        if text.isspace():
            continue
        found.append(_lexeme(text, pos))
    found.append(Lexeme("END", "", len(query)))
    return found


def _lexeme(text: str, pos: int) -> Lexeme:
    if text in "()":
        return Lexeme(text, text, pos)
    if text[0] in '"“”':
        if len(text) < 2 or text[-1] not in '"“”':
            raise _Syntax("unterminated phrase: '\"' is never closed", pos)
        return Lexeme("PHRASE", text, pos)
    if text in _OPERATORS:
        return Lexeme(text, text, pos)
    near = _NEAR.match(text)
    if text.startswith("NEAR/") and near is None and text[5:].isdecimal():
        raise _Syntax(f"NEAR distance must be between 1 and {MAX_NEAR} words", pos)
    if text == "NEAR" or (text.startswith("NEAR/") and near is None):
        raise _Syntax("NEAR needs a distance in words, e.g. NEAR/5", pos)
    if near:
        distance = int(near.group(1))
        if not 1 <= distance <= MAX_NEAR:
            raise _Syntax(f"NEAR distance must be between 1 and {MAX_NEAR} words", pos)
        return Lexeme("NEAR", text, pos, distance)
    return Lexeme("TERM", text, pos)
