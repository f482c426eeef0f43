"""Reading comprehension in the style of bAbI (Weston et al., 2015), generated from a seed.

A story is a few sentences about people moving between places and picking up and dropping
objects; a question is asked about it, and the answer is one word::

    where is the football ? mary went to the kitchen . john got the football .
    john travelled to the garden .                                       ->  garden

The encoder reads question and story as one word sequence, the question ended by ``?`` and each
sentence by ``.`` (the sentence separators). The question comes first, as a person reads the
question before the text: the encoder then knows whom or what to follow while it reads, and
the last move of that person overrides the earlier ones as it goes. With the question last,
the recipe's model sits for 2,500 steps at the score of answering with the last sentence's
place (about 48% on qa-1) before it learns to match the person; with it first it reaches 100%
by step 2,000 (benchmarks/RESULTS.md). The price: the answer then travels in the encoder's
forward state, and the attention goes to the story's end rather than to the supporting sentence,
which a story-first model, once trained, picks out (``plot attention --by-sentence`` shows both).
The task option ``order`` (:data:`ORDERS`) lays the input out otherwise, story first or with the
question on both sides of the story; the recipes keep the question first, because on qa-2 neither
other order leaves the 70% plateau sooner (benchmarks/RESULTS.md).
Four families, each testing one skill:

``qa-1``  single supporting fact   ``where is mary ?``                    one sentence answers it
``qa-2``  two supporting facts     ``where is the football ?``            who has it, and where they went
``qa-3``  yes/no                   ``is john in the kitchen ?``           a place, checked
``qa-4``  counting                 ``how many objects is daniel carrying ?``  none, one, two, three

The answers come from :class:`World`, a tiny simulator that reads the story's sentences one by
one and keeps who is where and who holds what; the generator draws only events that make sense
in the world so far (one picks up an object lying where one is, drops only what one carries),
and asks only questions the story answers.
"""

from __future__ import annotations

import random

PEOPLE = ("mary", "john", "daniel", "sandra")
PLACES = ("kitchen", "garden", "office", "bathroom", "hallway", "bedroom")
OBJECTS = ("football", "apple", "milk")
MOVE = ("went to", "journeyed to", "travelled to", "moved to")
GRAB = ("picked up", "got", "grabbed")
DROP = ("dropped", "discarded", "put down")
COUNTS = ("none", "one", "two", "three")


class World:
    """Who is where and who holds what, after the sentences told so far.

    ``where``: person -> place (people not yet mentioned in a move are nowhere known);
    ``holder``: object -> person carrying it; ``lying``: object -> place it was dropped at;
    ``handler``: object -> the last person who picked it up or dropped it.
    """

    def __init__(self):
        self.where: dict[str, str] = {}
        self.holder: dict[str, str] = {}
        self.lying: dict[str, str] = {}
        self.handler: dict[str, str] = {}

    @classmethod
    def after(cls, sentences) -> "World":
        world = cls()
        for s in sentences:
            world.tell(s)
        return world

    def tell(self, sentence: str) -> None:
        """Update the world with one sentence: ``PERSON VERB the THING`` (a final ``.`` optional)."""
        words = sentence.replace(".", " ").split()
        if len(words) < 4 or words[-2] != "the":
            raise ValueError(f"not a story sentence: {sentence!r}")
        person, verb, thing = words[0], " ".join(words[1:-2]), words[-1]
        if verb in MOVE:
            self.where[person] = thing
        elif verb in GRAB:
            if thing in self.holder:
                raise ValueError(f"{person} cannot pick up the {thing}: {self.holder[thing]} has it")
            self.holder[thing] = person
            self.handler[thing] = person
            self.lying.pop(thing, None)
        elif verb in DROP:
            if self.holder.get(thing) != person:
                raise ValueError(f"{person} cannot drop the {thing}: {person} does not have it")
            del self.holder[thing]
            self.handler[thing] = person
            if person in self.where:
                self.lying[thing] = self.where[person]
        else:
            raise ValueError(f"unknown verb {verb!r} in {sentence!r}")

    def place_of(self, thing: str) -> str | None:
        """Where a person or an object is, or None when the story does not say."""
        if thing in self.holder:
            return self.where.get(self.holder[thing])
        return self.where.get(thing, self.lying.get(thing))

    def carried_by(self, person: str) -> list[str]:
        return [o for o, p in self.holder.items() if p == person]

    def answer(self, question: str) -> str:
        """The one-word answer to a question of the four families; ValueError when the
        story does not determine it (somebody or something of unknown place)."""
        words = question.replace("?", " ").split()
        if words[:2] == ["where", "is"]:
            thing = words[-1]
            place = self.place_of(thing)
            if place is None:
                raise ValueError(f"the story does not say where {thing} is")
            return place
        if words[0] == "is" and words[2:4] == ["in", "the"]:
            place = self.where.get(words[1])
            if place is None:
                raise ValueError(f"the story does not say where {words[1]} is")
            return "yes" if place == words[4] else "no"
        if words[:3] == ["how", "many", "objects"]:
            return COUNTS[len(self.carried_by(words[4]))]
        raise ValueError(f"unknown question {question!r}")


# --------------------------------------------------------------------------- generating stories


def _event(rng: random.Random, world: World, moves_only: bool) -> str:
    """One sentence that makes sense in ``world``: a move, or (unless ``moves_only``) picking
    up an object lying where one is (or not yet placed), or dropping one that one carries."""
    choices = ["move"]
    if not moves_only:
        located = [p for p in PEOPLE if p in world.where]
        can_grab = [(p, o) for p in located for o in OBJECTS
                    if o not in world.holder and world.lying.get(o, world.where[p]) == world.where[p]]
        if can_grab:
            choices += ["grab", "grab"]
        if world.holder:
            choices.append("drop")
    kind = rng.choice(choices)
    if kind == "grab":
        person, obj = rng.choice(can_grab)
        return f"{person} {rng.choice(GRAB)} the {obj}"
    if kind == "drop":
        obj = rng.choice(sorted(world.holder))
        return f"{world.holder[obj]} {rng.choice(DROP)} the {obj}"
    person = rng.choice(PEOPLE)
    place = rng.choice([p for p in PLACES if p != world.where.get(person)])
    return f"{person} {rng.choice(MOVE)} the {place}"


def _story(rng: random.Random, s: dict, moves_only: bool) -> tuple[list[str], World]:
    world, sentences = World(), []
    for _ in range(rng.randint(s["min_sentences"], s["max_sentences"])):
        sentences.append(_event(rng, world, moves_only))
        world.tell(sentences[-1])
    return sentences, world


#: how the encoder's input lays out question and story (the task option ``order``); the
#: recipes use the default (the module docstring says why, benchmarks/RESULTS.md measures all three)
ORDERS = ("question-first", "story-first", "question-both")


def _text(sentences: list[str], question: str, order: str) -> str:
    """The encoder's input: the question then the story, the story then the question, or the
    question on both sides of the story (so that both directions of a bidirectional encoder
    read it before the story)."""
    story = " ".join(f"{s} ." for s in sentences)
    if order == "story-first":
        return f"{story} {question} ?"
    if order == "question-both":
        return f"{question} ? {story} {question} ?"
    return f"{question} ? {story}"


def _draw(rng: random.Random, s: dict, moves_only: bool, questions) -> tuple[str, str, World]:
    """A story and one of ``questions(world)`` (the answerable ones), redrawn until one exists:
    the encoder's input, the question, and the world after the story."""
    while True:
        sentences, world = _story(rng, s, moves_only)
        options = questions(rng, world)
        if options:
            question = rng.choice(options)
            return _text(sentences, question, s["order"]), question, world


def _ask(rng: random.Random, s: dict, moves_only: bool, questions) -> tuple[str, str]:
    """(input, answer) of a story and one of ``questions(world)``."""
    text, question, world = _draw(rng, s, moves_only, questions)
    return text, world.answer(question)


def _where_person(rng, world):
    return [f"where is {p}" for p in PEOPLE if p in world.where]


def _where_object(rng, world):
    # objects someone has picked up: held, or dropped at a known place
    return [f"where is the {o}" for o in OBJECTS
            if (o in world.holder or o in world.lying) and world.place_of(o) is not None]


def _yes_no(rng, world):
    people = [p for p in PEOPLE if p in world.where]
    if not people:
        return []
    person = rng.choice(people)
    place = world.where[person] if rng.random() < 0.5 else rng.choice([p for p in PLACES if p != world.where[person]])
    return [f"is {person} in the {place}"]


def _how_many(rng, world):
    carrying = [p for p in PEOPLE if world.carried_by(p)]
    # half the questions about somebody carrying something, so "none" does not dominate
    people = carrying if carrying and rng.random() < 0.5 else list(PEOPLE)
    return [f"how many objects is {p} carrying" for p in people]


def qa_single_fact(rng, s):
    return _ask(rng, s, True, _where_person)


def qa_two_facts(rng, s):
    """With the task option ``rationale`` the target is ``PERSON PLACE``: who last picked up or
    dropped the object (the first supporting fact's subject), then the answer. The decoder then
    takes two steps, each with its own attention: one to find the object's handler, one to find
    where that person was; exact match still needs both words right. It leaves qa-2's 70%
    plateau at once but stops at 82-85% in the recipe's 2 minutes, below plain answers
    (benchmarks/RESULTS.md), so the recipe does not use it."""
    text, question, world = _draw(rng, s, False, _where_object)
    answer = world.answer(question)
    if s["rationale"]:
        answer = f"{world.handler[question.split()[-1]]} {answer}"
    return text, answer


def qa_yes_no(rng, s):
    return _ask(rng, s, False, _yes_no)


def qa_counting(rng, s):
    return _ask(rng, s, False, _how_many)
